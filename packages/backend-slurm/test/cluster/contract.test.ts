/**
 * The backend conformance suite against Slurm on the real test cluster (real sshd, sbatch, squeue,
 * sacct). Each `create()` opens its own SSH connection: a second instance is a restarted control
 * plane. The connection is wrapped (`wireExec`) only to count round trips, to drop the answer of one
 * submission after sbatch ran, and to play an outage without taking the shared sshd down.
 */
import { BackendError } from '@scripthut/core';
import {
  backendContract,
  contractRequest,
  heldJobCommand,
  releaseJobCommand,
  wireExec,
} from '@scripthut/core/testing/contract';
import type { SshConnection } from '@scripthut/ssh';
import { afterAll } from 'vitest';
import { createSlurmBackend } from '../../src/backend.js';
import { clusterEnv, connect, RUN } from './helpers.js';

const DIR = `~/scripthut-test-logs/${RUN}-contract`;
const release = (tag: string) => `${DIR}/release/${tag}`;
let observer: SshConnection | null = null;
const wires = new WeakMap<object, ReturnType<typeof wireExec<SshConnection>>['wire']>();

function make(down?: Error) {
  const { runner, wire } = wireExec(connect());
  wire.down = down ?? null;
  const backend = createSlurmBackend({
    name: 'contract',
    ssh: runner,
    maxConcurrent: 50,
    markerDir: '~/.cache/scripthut/markers-test',
    user: clusterEnv('SSH_USER'),
  });
  wires.set(backend, wire);
  return backend;
}

async function shell(command: string): Promise<void> {
  observer ??= connect();
  const r = await observer.exec(command);
  if (r.exitCode !== 0) throw new Error(`${command}: exit ${r.exitCode}: ${r.stderr}`);
}

afterAll(async () => {
  await observer?.close();
});

backendContract('slurm (real cluster)', () => make(), {
  request: (job) =>
    contractRequest(job, { command: heldJobCommand(release(job.tag), job), logDir: `${DIR}/logs` }),
  rejectedRequest: (job) =>
    contractRequest(job, {
      command: 'true',
      logDir: `${DIR}/logs`,
      spec: { partition: 'no_such_partition' },
    }),
  async finish(job, exitCode) {
    await shell(
      `mkdir -p "$HOME"/scripthut-test-logs/${RUN}-contract/release && ${releaseJobCommand(release(job.tag), exitCode)}`,
    );
  },
  unreachable: () =>
    make(
      new BackendError('SSH command failed on backend contract: connect ECONNREFUSED', { transient: true }),
    ),
  loseNextSubmitAnswer(backend) {
    wires.get(backend)!.loseNextAnswer((_command, options) => options?.logAs?.startsWith('sbatch') ?? false);
  },
  roundTrips: (backend) => wires.get(backend)!.calls,
  timeoutMs: 120_000,
  pollMs: 500,
  async cleanup() {
    await shell(`rm -rf "$HOME"/scripthut-test-logs/${RUN}-contract`).catch(() => undefined);
  },
});
