/**
 * The backend conformance suite against the PBS backend over real SSH, with the PBS simulator
 * (test/simulator, PBS Pro flavour) as the scheduler. As for Slurm, the connection is wrapped
 * (`wireExec`) only to count round trips, drop one submission's answer after qsub ran, and play an
 * outage.
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
import { afterAll, beforeAll } from 'vitest';
import { createPbsBackend } from '../../src/backend.js';
import { clusterEnv, connect, installSimulator, RUN } from './helpers.js';

const DIR = `~/scripthut-test-logs/${RUN}-pbs-contract`;
const release = (tag: string) => `${DIR}/release/${tag}`;
let observer: SshConnection;
const wires = new WeakMap<object, ReturnType<typeof wireExec<SshConnection>>['wire']>();

beforeAll(async () => {
  observer = connect();
  await installSimulator(observer, 'pro');
});

afterAll(async () => {
  await observer?.exec('node "$HOME/bin/pbs-sim.mjs" __drain').catch(() => undefined);
  await observer?.close();
});

function make(down?: Error) {
  const { runner, wire } = wireExec(connect());
  wire.down = down ?? null;
  const backend = createPbsBackend({
    name: 'contract',
    ssh: runner,
    maxConcurrent: 50,
    flavour: 'pro',
    queue: null,
    markerDir: '~/.cache/scripthut/markers-pbs-test',
    user: clusterEnv('SSH_USER'),
  });
  wires.set(backend, wire);
  return backend;
}

async function shell(command: string): Promise<void> {
  const r = await observer.exec(command);
  if (r.exitCode !== 0) throw new Error(`${command}: exit ${r.exitCode}: ${r.stderr}`);
}

backendContract('pbs (simulator over SSH)', () => make(), {
  request: (job) =>
    contractRequest(job, { command: heldJobCommand(release(job.tag), job), logDir: `${DIR}/logs` }),
  rejectedRequest: (job) =>
    contractRequest(job, { command: 'true', logDir: `${DIR}/logs`, spec: { partition: 'no_such_queue' } }),
  async finish(job, exitCode) {
    await shell(
      `mkdir -p "$HOME"/scripthut-test-logs/${RUN}-pbs-contract/release && ${releaseJobCommand(release(job.tag), exitCode)}`,
    );
  },
  unreachable: () =>
    make(
      new BackendError('SSH command failed on backend contract: connect ECONNREFUSED', { transient: true }),
    ),
  loseNextSubmitAnswer(backend) {
    wires.get(backend)!.loseNextAnswer((_command, options) => options?.logAs?.startsWith('qsub') ?? false);
  },
  roundTrips: (backend) => wires.get(backend)!.calls,
  timeoutMs: 120_000,
  pollMs: 500,
  async cleanup() {
    await shell(`rm -rf "$HOME"/scripthut-test-logs/${RUN}-pbs-contract`).catch(() => undefined);
  },
});
