/**
 * Global setup of the vitest `cluster` project: brings the local Slurm + sshd test cluster up with
 * `up.sh` (idempotent, ~1 s when already up) and exports its settings to the test workers.
 *
 * Every `KEY=VALUE` line of `$SLB_BASE/cluster.env` becomes `process.env.SCRIPTHUT_TEST_<KEY>`
 * (e.g. `SCRIPTHUT_TEST_SSH_HOST`, `SCRIPTHUT_TEST_SSH_KEY`) and is also provided as
 * `inject('scripthutCluster')`. When the cluster cannot come up this throws, so the suite FAILS
 * instead of skipping. The cluster is left running at teardown: reusing it is cheap.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const here = import.meta.dirname;

/** Parses the `KEY=VALUE` lines written by up.sh. */
export function parseClusterEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

interface SetupContext {
  provide?: (key: string, value: unknown) => void;
}

export default function setup(ctx?: SetupContext): void {
  const base = process.env.SLB_BASE ?? '/var/lib/scripthut-cluster';
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const cmd = isRoot ? join(here, 'up.sh') : 'sudo';
  const args = isRoot ? [] : ['-n', '--preserve-env=SLB_BASE', join(here, 'up.sh')];
  const started = Date.now();
  const res = spawnSync(cmd, args, {
    env: { ...process.env, SLB_BASE: base },
    encoding: 'utf8',
    timeout: 15 * 60_000,
  });
  if (res.error || res.status !== 0) {
    const detail = [res.error?.message, res.stdout, res.stderr].filter(Boolean).join('\n');
    throw new Error(
      `scripthut test cluster failed to come up (${cmd} ${args.join(' ')} exited ${res.status ?? res.signal}):\n${detail}`,
    );
  }
  const env = parseClusterEnv(readFileSync(join(base, 'cluster.env'), 'utf8'));
  if (!env.SSH_HOST || !env.SSH_KEY) {
    throw new Error(`scripthut test cluster: ${join(base, 'cluster.env')} is incomplete`);
  }
  for (const [k, v] of Object.entries(env)) process.env[`SCRIPTHUT_TEST_${k}`] = v;
  ctx?.provide?.('scripthutCluster', env);
  process.stdout.write(`[cluster] up in ${((Date.now() - started) / 1000).toFixed(1)} s (${base})\n`);
}
