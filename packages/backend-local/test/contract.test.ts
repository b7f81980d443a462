/** The backend conformance suite against the local backend: real detached process groups. */
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backendContract, contractRequest, heldJobCommand } from '@scripthut/core/testing/contract';
import { createLocalBackend } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'sh-contract-'));
const releaseDir = join(dir, 'release');
mkdirSync(releaseDir);
const release = (tag: string) => join(releaseDir, tag);
const make = () =>
  createLocalBackend({ name: 'local', maxConcurrent: 50, spoolDir: join(dir, 'spool'), vanishGraceMs: 500 });

backendContract('local', make, {
  request: (job) =>
    contractRequest(job, {
      command: heldJobCommand(release(job.tag), job),
      logDir: join(dir, 'logs'),
      workingDir: dir,
    }),
  rejectedRequest(job) {
    // A log directory below a regular file cannot be created: a permanent per-task failure.
    writeFileSync(join(dir, 'not-a-dir'), '');
    return contractRequest(job, { command: 'true', logDir: join(dir, 'not-a-dir', 'logs'), workingDir: dir });
  },
  async finish(job, exitCode) {
    writeFileSync(`${release(job.tag)}.tmp`, `${exitCode}\n`);
    renameSync(`${release(job.tag)}.tmp`, release(job.tag));
  },
  async vanish(job) {
    // Killed with the whole process group before it can write its exit marker (as by the OOM killer).
    const record = make().readRecord(job.jobId);
    if (!record?.pgid) throw new Error(`job ${job.jobId} has no process group`);
    process.kill(-record.pgid, 'SIGKILL');
  },
  timeoutMs: 20_000,
  pollMs: 50,
  async cleanup() {
    rmSync(dir, { recursive: true, force: true });
  },
});
