/**
 * The backend conformance suite against Slurm on the real test cluster (real sshd, sbatch, squeue,
 * sacct). The SSH connection of each instance is wrapped (`remoteContract`) only to count round
 * trips, to drop the answer of one submission after sbatch ran, and to play an outage without
 * taking the shared sshd down.
 */
import { backendContract, remoteContract } from '@scripthut/core/testing/contract';
import type { SshConnection } from '@scripthut/ssh';
import { afterAll } from 'vitest';
import { createSlurmBackend } from '../../src/backend.js';
import { clusterEnv, connect, RUN } from './helpers.js';

let observer: SshConnection | null = null;
afterAll(async () => {
  await observer?.close();
});

const { create, driver } = remoteContract({
  connect,
  build: (ssh) =>
    createSlurmBackend({
      name: 'contract',
      ssh,
      maxConcurrent: 50,
      markerDir: '~/.cache/scripthut/markers-test',
      user: clusterEnv('SSH_USER'),
    }),
  dir: `~/scripthut-test-logs/${RUN}-contract`,
  async shell(command) {
    observer ??= connect();
    const r = await observer.exec(command);
    if (r.exitCode !== 0) throw new Error(`${command}: exit ${r.exitCode}: ${r.stderr}`);
  },
  submitLogAs: 'sbatch',
  rejectedSpec: { partition: 'no_such_partition' },
});

backendContract('slurm (real cluster)', create, driver);
