/**
 * Shared setup of the PBS backend's cluster tests: the real sshd from the global setup, with the PBS
 * simulator (test/simulator) installed into `~hut/bin`, which sshd puts first on hut's PATH.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { shellQuote } from '@scripthut/core';
import { SshConnection } from '@scripthut/ssh';
import { createPbsBackend, type PbsBackendOptions } from '../../src/backend.js';
import type { PbsFlavour } from '../../src/parse.js';

export function clusterEnv(key: string): string {
  const v = process.env[`SCRIPTHUT_TEST_${key}`];
  if (!v) throw new Error(`SCRIPTHUT_TEST_${key} is not set: the cluster global setup did not run`);
  return v;
}

export function connect(): SshConnection {
  return new SshConnection({
    host: clusterEnv('SSH_HOST'),
    port: Number(clusterEnv('SSH_PORT')),
    user: clusterEnv('SSH_USER'),
    keyPath: clusterEnv('SSH_KEY'),
    knownHostsPath: clusterEnv('SSH_KNOWN_HOSTS'),
  });
}

/** A run id unique to this test process (8 hex characters, as the engine's run ids). */
export const RUN = randomBytes(4).toString('hex');

const SIM_DIR = join(import.meta.dirname, '../simulator');
const SIM_FILES = [
  'pbs-sim.mjs',
  'sim-spool.mjs',
  'sim-format.mjs',
  'sim-qsub.mjs',
  'sim-runner.mjs',
  'sim-qstat.mjs',
  'qsub',
  'qstat',
  'qdel',
  'qselect',
  'pbsnodes',
];

/**
 * Install the simulator into `~/bin` of the SSH user (over SSH, as that user), select the flavour
 * and check that a plain `qsub` resolves to it.
 */
export async function installSimulator(ssh: SshConnection, flavour: PbsFlavour): Promise<void> {
  for (const f of SIM_FILES) {
    const r = await ssh.exec(
      `mkdir -p "$HOME/bin" && cat > "$HOME/bin/${f}.tmp" && chmod 0755 "$HOME/bin/${f}.tmp" && mv -f "$HOME/bin/${f}.tmp" "$HOME/bin/${f}"`,
      {
        stdin: readFileSync(join(SIM_DIR, f), 'utf8'),
      },
    );
    if (r.exitCode !== 0) throw new Error(`cannot install ${f}: ${r.stderr}`);
  }
  const r = await ssh.exec(
    `mkdir -p "$HOME/.pbs-sim" && printf '%s\\n' ${shellQuote(flavour)} > "$HOME/.pbs-sim/flavour" && command -v qsub`,
  );
  if (r.exitCode !== 0 || r.stdout.trim() !== `${await home(ssh)}/bin/qsub`)
    throw new Error(`qsub does not resolve to the simulator over SSH: ${r.stdout} ${r.stderr}`);
}

async function home(ssh: SshConnection): Promise<string> {
  return (await ssh.exec('printf %s "$HOME"')).stdout;
}

export function makeBackend(
  ssh: SshConnection,
  flavour: PbsFlavour | 'auto',
  maxConcurrent = 10,
  queue?: string | null,
  extra: Partial<PbsBackendOptions> = {},
) {
  return createPbsBackend({
    name: 'pbs',
    ssh,
    maxConcurrent,
    flavour,
    queue: queue === undefined ? null : queue,
    markerDir: `~/.cache/scripthut/markers-pbs-test`,
    user: clusterEnv('SSH_USER'),
    ...extra,
  });
}

/** Lines `<full id> <name>` of every qsub the simulator accepted. */
export async function qsubLog(ssh: SshConnection): Promise<{ id: string; name: string }[]> {
  const r = await ssh.exec('cat "$HOME/.pbs-sim/qsub.log" 2>/dev/null; true');
  return r.stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const [id, name] = l.split(' ');
      return { id: id!, name: name! };
    });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
