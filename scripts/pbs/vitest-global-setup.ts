/**
 * Global setup of the vitest `real-pbs` project: brings the real OpenPBS and its sshd up with
 * `scripts/pbs/up.sh` (idempotent; the first run builds OpenPBS, minutes) in the job-history mode
 * of `PBS_JOB_HISTORY` (0, the stock setting, by default; 1 = on) and exports every `KEY=VALUE`
 * line of `$PBS_TEST_BASE/pbs.env` as `process.env.SCRIPTHUT_PBS_<KEY>`.
 *
 * When the OpenPBS source is missing or the bring-up fails this throws, so the group FAILS instead
 * of skipping (`pnpm test` decides beforehand whether to run the group at all and says so).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseClusterEnv } from '../cluster/vitest-global-setup.js';

const here = import.meta.dirname;

export default function setup(): void {
  const base = process.env.PBS_TEST_BASE ?? '/var/lib/scripthut-pbs';
  const history = process.env.PBS_JOB_HISTORY ?? '0';
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const script = join(here, 'up.sh');
  const keep = 'PBS_TEST_BASE,PBS_JOB_HISTORY,SCRIPTHUT_OPENPBS_DIR,SCRIPTHUT_OPENPBS_LOCK_HELD';
  const cmd = isRoot ? script : 'sudo';
  const args = isRoot ? [] : ['-n', `--preserve-env=${keep}`, script];
  const started = Date.now();
  const res = spawnSync(cmd, args, {
    env: { ...process.env, PBS_TEST_BASE: base, PBS_JOB_HISTORY: history },
    encoding: 'utf8',
    timeout: 40 * 60_000,
  });
  if (res.error || res.status !== 0) {
    const detail = [res.error?.message, res.stdout, res.stderr].filter(Boolean).join('\n');
    throw new Error(
      `the real OpenPBS did not come up (${cmd} ${args.join(' ')} exited ${res.status ?? res.signal}):\n${detail}`,
    );
  }
  const env = parseClusterEnv(readFileSync(join(base, 'pbs.env'), 'utf8'));
  if (!env.SSH_PORT || !env.SSH_KEY || env.PBS_JOB_HISTORY !== history)
    throw new Error(`the real OpenPBS: ${join(base, 'pbs.env')} is incomplete or in the wrong history mode`);
  for (const [k, v] of Object.entries(env)) process.env[`SCRIPTHUT_PBS_${k}`] = v;
  process.stdout.write(
    `[real-pbs] OpenPBS ${env.PBS_VERSION} up in ${((Date.now() - started) / 1000).toFixed(1)} s, job history ${history === '1' ? 'on' : 'off'}\n`,
  );
}
