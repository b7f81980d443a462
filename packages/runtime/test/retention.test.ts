import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/index.js';

const opened: Runtime[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.close();
});

const DAY = 86_400_000;

async function open(retention: string): Promise<{ rt: Runtime; dir: string; logged: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'sh-retention-'));
  writeFileSync(
    join(dir, 'scripthut.yaml'),
    `backends:\n  - name: local\n    type: local\n    max_concurrent: 2\n${retention}`,
  );
  const logged: string[] = [];
  const rt = await createRuntime({
    cwd: dir,
    dataDir: join(dir, 'data'),
    pollIntervalMs: 200,
    logger: { info: (m: string) => logged.push(m), warn() {}, error() {} },
  });
  opened.push(rt);
  await rt.start();
  return { rt, dir, logged };
}

async function finished(rt: Runtime, command: string): Promise<string> {
  const s = await rt.runAdhocTask({ backend: 'local', command, id: 'job.a' });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const t = rt.getTask(s.run.id, 'job.a');
    if (t.state === 'completed' && t.usage && t.usage.status !== 'pending') return s.run.id;
    if (Date.now() > deadline) throw new Error(`run ${s.run.id} not finished: ${JSON.stringify(t)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('retention (settings.retention_days)', () => {
  it('deletes a finished run older than the setting with its local logs; the ledger keeps its CPU-hours', async () => {
    const { rt, logged } = await open('settings:\n  retention_days: 7\n');
    const id = await finished(rt, 'echo hello; sleep 0.2');
    const task = rt.getTask(id, 'job.a');
    const out = task.stdoutPath!.replace(/^~/, process.env.HOME ?? '');
    expect(existsSync(out)).toBe(true);
    const before = rt.usageBuckets('day', '2000-01-01');
    expect(before.reduce((a, b) => a + b.tasks, 0)).toBe(1);
    // 6 days later: kept
    expect(rt.runRetention(Date.now() + 6 * DAY)).toEqual([]);
    expect(rt.listRuns().items.map((r) => r.run.id)).toContain(id);
    // 8 days later: gone, with its log file, logged
    expect(rt.runRetention(Date.now() + 8 * DAY)).toEqual([id]);
    expect(rt.listRuns().items.map((r) => r.run.id)).not.toContain(id);
    expect(existsSync(out)).toBe(false);
    expect(
      logged.some((m) => m.startsWith(`retention: deleted run ${id}`) && m.includes('older than 7 days')),
    ).toBe(true);
    expect(rt.usageBuckets('day', '2000-01-01')).toEqual(before);
  });

  it('retention_days: 0 keeps runs forever; the default is 30 days', async () => {
    const keep = await open('settings:\n  retention_days: 0\n');
    const id = await finished(keep.rt, 'true');
    expect(keep.rt.runRetention(Date.now() + 3650 * DAY)).toEqual([]);
    expect(keep.rt.listRuns().items.map((r) => r.run.id)).toContain(id);
    const dflt = await open('');
    const id2 = await finished(dflt.rt, 'true');
    expect(dflt.rt.runRetention(Date.now() + 29 * DAY)).toEqual([]);
    expect(dflt.rt.runRetention(Date.now() + 31 * DAY)).toEqual([id2]);
  });
});
