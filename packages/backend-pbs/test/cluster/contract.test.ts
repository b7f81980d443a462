/**
 * The backend conformance suite against the PBS backend over real SSH, with the PBS simulator
 * (test/simulator, PBS Pro flavour) as the scheduler. As for Slurm, each instance's connection is
 * wrapped (`remoteContract`) only to count round trips, drop one submission's answer after qsub ran,
 * and play an outage.
 */
import { backendContract, remoteContract } from '@scripthut/core/testing/contract';
import type { SshConnection } from '@scripthut/ssh';
import { afterAll, beforeAll } from 'vitest';
import { createPbsBackend } from '../../src/backend.js';
import { clusterEnv, connect, installSimulator, RUN } from './helpers.js';

let observer: SshConnection;
beforeAll(async () => {
  observer = connect();
  await installSimulator(observer, 'pro');
});
afterAll(async () => {
  await observer?.exec('node "$HOME/bin/pbs-sim.mjs" __drain').catch(() => undefined);
  await observer?.close();
});

const { create, driver } = remoteContract({
  connect,
  // No backend queue: it would override the task's queue (the rejected request names a missing one).
  build: (ssh) =>
    createPbsBackend({
      name: 'contract',
      ssh,
      maxConcurrent: 50,
      flavour: 'pro',
      queue: null,
      markerDir: '~/.cache/scripthut/markers-pbs-test',
      user: clusterEnv('SSH_USER'),
    }),
  dir: `~/scripthut-test-logs/${RUN}-pbs-contract`,
  async shell(command) {
    const r = await observer.exec(command);
    if (r.exitCode !== 0) throw new Error(`${command}: exit ${r.exitCode}: ${r.stderr}`);
  },
  submitLogAs: 'qsub',
  rejectedSpec: { partition: 'no_such_queue' },
});

backendContract('pbs (simulator over SSH)', create, driver);
