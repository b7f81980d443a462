/**
 * A real runtime driving the local Slurm cluster over sshd with NO `ssh.known_hosts` configured:
 * the host key is pinned in `<data_dir>/known_hosts` on the first connection (one warning with the
 * fingerprint), trusted silently after a restart, and a changed key stops the backend with an
 * error saying how to accept it. Secret variables reach the Slurm job; the stored script (which
 * the Slurm backend keeps verbatim) is shown with `***`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunSummary } from '@scripthut/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../src/index.js';

function env(key: string): string {
  const v = process.env[`SCRIPTHUT_TEST_${key}`];
  if (!v) throw new Error(`SCRIPTHUT_TEST_${key} is not set: the cluster global setup did not run`);
  return v;
}

const SECRET = 'slurm-secret-token-value-0042';
let dir: string;
let dataDir: string;
let configPath: string;
const open = new Set<Runtime>();

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sh-hostkeys-'));
  dataDir = join(dir, 'data');
  configPath = join(dir, 'scripthut.yaml');
  writeFileSync(
    configPath,
    JSON.stringify({
      backends: [
        {
          name: 'hpc',
          type: 'slurm',
          ssh: {
            host: env('SSH_HOST'),
            port: Number(env('SSH_PORT')),
            user: env('SSH_USER'),
            key_path: env('SSH_KEY'),
          },
          max_concurrent: 2,
        },
      ],
      settings: { poll_interval: 5 },
    }),
  );
});

afterAll(async () => {
  for (const rt of open) await rt.close();
  open.clear();
  rmSync(dir, { recursive: true, force: true });
});

async function start(warnings: string[]): Promise<Runtime> {
  const rt = await createRuntime({
    configPath,
    cwd: dir,
    dataDir,
    pollIntervalMs: 1000,
    logger: { info() {}, warn: (m) => warnings.push(m), error() {} },
  });
  open.add(rt);
  await rt.start();
  return rt;
}

async function waitDone(rt: Runtime, runId: string): Promise<RunSummary> {
  for (let i = 0; i < 1200; i++) {
    const s = rt.getRun(runId);
    if (s.status !== 'pending' && s.status !== 'running') return s;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`run ${runId} did not finish: ${JSON.stringify(rt.getRun(runId).counts)}`);
}

const hostName = () => `[${env('SSH_HOST')}]:${env('SSH_PORT')}`;
const fingerprint = () =>
  execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', env('SSH_HOST_KEY_PUB')])
    .toString()
    .split(' ')[1]!;

describe('slurm backend without ssh.known_hosts', () => {
  it('pins the host key on first use and runs a job with a secret it gets but nobody sees', async () => {
    const warnings: string[] = [];
    const rt = await start(warnings);
    const created = await rt.runAdhocTask({
      backend: 'hpc',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion, not a JS template
      command: 'echo "length=${#API_TOKEN}"; echo "value=$API_TOKEN"',
      memory: '50M',
      timeLimit: '0:05:00',
      env: { API_TOKEN: SECRET },
    });
    const done = await waitDone(rt, created.run.id);
    expect(done.status).toBe('completed');
    const taskId = rt.listTasks(created.run.id).items[0]!.spec.id;
    const log = await rt.readTaskLog(created.run.id, taskId, 'stdout');
    expect(log.content).toContain(`length=${SECRET.length}`);
    const task = rt.getTask(created.run.id, taskId);
    expect(task.script).toContain(`export API_TOKEN='***'`);
    expect(JSON.stringify([task, rt.getRun(created.run.id), rt.listTasks(created.run.id)])).not.toContain(
      SECRET,
    );

    const file = join(dataDir, 'known_hosts');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const hostKey = readFileSync(env('SSH_HOST_KEY_PUB'), 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
    expect(readFileSync(file, 'utf8')).toContain(`${hostName()} ${hostKey}\n`);
    const pinned = warnings.filter((w) => w.includes('pinned its host key'));
    expect(pinned).toHaveLength(1);
    expect(pinned[0]).toContain(`backend hpc: first connection to ${hostName()}`);
    expect(pinned[0]).toContain(fingerprint());
    expect(warnings.join('\n')).not.toContain('NOT verified');
    await rt.close();
    open.delete(rt);
  });

  it('after a restart the pinned key is trusted silently; a changed key stops the backend', async () => {
    const again: string[] = [];
    const rt = await start(again);
    const ok = await rt.runAdhocTask({
      backend: 'hpc',
      command: 'true',
      memory: '50M',
      timeLimit: '0:05:00',
    });
    expect((await waitDone(rt, ok.run.id)).status).toBe('completed');
    expect(again.filter((w) => /pinned|NOT verified/.test(w))).toEqual([]);
    await rt.close();
    open.delete(rt);

    // Someone (or a reinstalled login node) presents another key: simulate with a different pin.
    const file = join(dataDir, 'known_hosts');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'other')]);
    const other = readFileSync(join(dir, 'other.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.replace(/^(\[[^\n]*\]:\d+) ssh-ed25519 \S+$/m, `$1 ${other}`));
    const refused = await start([]);
    const run = await refused.runAdhocTask({
      backend: 'hpc',
      command: 'true',
      memory: '50M',
      timeLimit: '0:05:00',
    });
    let lastError = '';
    for (let i = 0; i < 200 && !lastError.includes('CHANGED'); i++) {
      await new Promise((r) => setTimeout(r, 250));
      const b = refused.listBackends().find((x) => x.name === 'hpc')!;
      lastError = `${b.lastError ?? ''} ${b.health.lastError ?? ''}`;
    }
    expect(lastError).toContain(`host key of ${hostName()} has CHANGED — refusing to connect`);
    expect(lastError).toContain(`ssh-keygen -R '${hostName()}' -f ${file}`);
    expect(refused.getRun(run.run.id).counts.completed).toBe(0);
  });
});
