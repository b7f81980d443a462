/**
 * Shared setup of the `real-pbs` group: the real OpenPBS and the sshd for `pbsuser` brought up by
 * scripts/pbs/vitest-global-setup.ts, whose settings arrive as `SCRIPTHUT_PBS_<KEY>`.
 */
import { randomBytes } from 'node:crypto';
import { pollUntil } from '@scripthut/core/testing';
import { SshConnection } from '@scripthut/ssh';
import { createPbsBackend, type PbsBackend, type PbsBackendOptions } from '../../src/backend.js';

export function pbsEnv(key: string): string {
  const v = process.env[`SCRIPTHUT_PBS_${key}`];
  if (!v) throw new Error(`SCRIPTHUT_PBS_${key} is not set: the real-pbs global setup did not run`);
  return v;
}

/** The server keeps finished jobs (`PBS_JOB_HISTORY=1` bring-up). */
export const HISTORY = process.env.SCRIPTHUT_PBS_PBS_JOB_HISTORY === '1';
export const MODE = HISTORY ? 'on' : 'off';

/** A run id unique to this test process (8 hex characters, as the engine's run ids). */
export const RUN = randomBytes(4).toString('hex');

export function connect(): SshConnection {
  return new SshConnection({
    host: pbsEnv('SSH_HOST'),
    port: Number(pbsEnv('SSH_PORT')),
    user: pbsEnv('SSH_USER'),
    keyPath: pbsEnv('SSH_KEY'),
    knownHostsPath: pbsEnv('SSH_KNOWN_HOSTS'),
  });
}

export function makeBackend(ssh: SshConnection, extra: Partial<PbsBackendOptions> = {}): PbsBackend {
  return createPbsBackend({
    name: 'pbs',
    ssh,
    maxConcurrent: 10,
    markerDir: '~/.cache/scripthut/markers-real-pbs-test',
    user: pbsEnv('SSH_USER'),
    ...extra,
  });
}

/**
 * Every job the server accepted whose name starts with `prefix`, from the PBS server's own log
 * ("Job Queued … job name = …"): it records each qsub, in both history modes.
 */
export async function serverLogSubmissions(
  observer: SshConnection,
  prefix: string,
): Promise<{ id: string; name: string }[]> {
  if (!/^[A-Za-z0-9_-]+$/.test(prefix)) throw new Error(`bad prefix ${prefix}`);
  const r = await observer.exec(
    `grep -h 'Job Queued at request' /var/spool/pbs/server_logs/* 2>/dev/null; true`,
  );
  const out: { id: string; name: string }[] = [];
  for (const m of r.stdout.matchAll(
    /;Job;([^;]+);Job Queued at request .*?, job name = ([^,\n]+), queue = /g,
  ))
    if (m[2]!.startsWith(prefix)) out.push({ id: m[1]!, name: m[2]! });
  return out;
}

/** Poll `check` (bounded) until it returns a value; fails the test with `what` otherwise. */
export const until = pollUntil;
