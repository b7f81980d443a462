/**
 * Forgotten jobs survive a restart: Forget on one runtime, then a new runtime on the same data
 * directory (the same SQLite file) still hides the job, until the retention setting or the
 * scheduler's listing prunes it. The scheduler listing comes from a plugin backend that reads it
 * from a file (test/fixtures/plugins/listing.mjs).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExternalJob } from '@scripthut/core';
import { openSqliteStore } from '@scripthut/store';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/index.js';

const PLUGIN = join(import.meta.dirname, 'fixtures', 'plugins', 'listing.mjs');
const DAY = 86_400_000;

let dir: string;
const opened: Runtime[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sh-forgotten-'));
  process.env.SCRIPTHUT_TEST_LISTING_FILE = join(dir, 'jobs.json');
});
afterEach(async () => {
  while (opened.length) await opened.pop()!.close();
  rmSync(dir, { recursive: true, force: true });
});

function job(jobId: string, state: ExternalJob['state']): ExternalJob {
  return {
    jobId,
    name: `other-${jobId}`,
    user: 'someone',
    state,
    partition: 'debug',
    cpus: 1,
    memory: null,
    timeUsed: null,
    nodes: null,
    submittedAt: null,
    reason: null,
  };
}

function schedulerLists(...jobs: ExternalJob[]): void {
  writeFileSync(join(dir, 'jobs.json'), JSON.stringify(jobs));
}

async function open(retentionDays = 30): Promise<Runtime> {
  writeFileSync(
    join(dir, 'scripthut.yaml'),
    `backends:\n  - name: hpc\n    type: listing\nsettings:\n  retention_days: ${retentionDays}\n`,
  );
  const rt = await createRuntime({
    cwd: dir,
    dataDir: join(dir, 'data'),
    plugins: [PLUGIN],
    logger: { info() {}, warn() {}, error() {} },
  });
  opened.push(rt);
  return rt;
}

/** The external job ids the jobs list shows after a refresh of the scheduler listing. */
async function shown(rt: Runtime): Promise<string[]> {
  rt.listJobs(); // marks interest, as the jobs page does
  await rt.refreshExternalJobs();
  return rt
    .listJobs()
    .filter((r) => r.kind === 'external')
    .map((r) => r.jobId!)
    .sort();
}

async function restart(rt: Runtime, retentionDays?: number): Promise<Runtime> {
  await rt.close();
  opened.splice(opened.indexOf(rt), 1);
  return open(retentionDays);
}

describe('forgotten jobs', () => {
  it('stay hidden after a restart on the same data directory, and are stored per backend', async () => {
    schedulerLists(job('11', 'completed'), job('12', 'failed'), job('13', 'running'));
    let rt = await open();
    expect(await shown(rt)).toEqual(['11', '12', '13']);
    rt.forgetJob('hpc', '11');
    expect(() => rt.forgetJob('hpc', '13')).toThrow(/only finished jobs can be forgotten/);
    expect(await shown(rt)).toEqual(['12', '13']);

    rt = await restart(rt);
    expect(await shown(rt)).toEqual(['12', '13']);
    await rt.close();
    opened.length = 0;
    const store = openSqliteStore(join(dir, 'data', 'scripthut.db'));
    expect(store.forgottenJobs().map((j) => [j.backend, j.jobId])).toEqual([['hpc', '11']]);
    store.close();
  });

  it('are pruned once the scheduler no longer lists the job: a later job with the same id shows', async () => {
    schedulerLists(job('21', 'completed'), job('22', 'completed'));
    let rt = await open();
    await shown(rt);
    rt.forgetJob('hpc', '21');
    rt.forgetJob('hpc', '22');
    schedulerLists(job('22', 'completed'));
    expect(await shown(rt)).toEqual([]);
    rt = await restart(rt);
    // id 21 is reused by a new job (Slurm after a job-id wrap, a new PBS server): it shows
    schedulerLists(job('21', 'running'), job('22', 'completed'));
    expect(await shown(rt)).toEqual(['21']);
  });

  it('are pruned by the retention setting, also after a restart', async () => {
    schedulerLists(job('31', 'completed'));
    let rt = await open(7);
    await shown(rt);
    rt.forgetJob('hpc', '31');
    rt = await restart(rt, 7);
    rt.runRetention(Date.now() + 6 * DAY);
    expect(await shown(rt)).toEqual([]);
    rt.runRetention(Date.now() + 8 * DAY);
    expect(await shown(rt)).toEqual(['31']);
    rt = await restart(rt, 7);
    expect(await shown(rt)).toEqual(['31']);
  });
});
