/**
 * sbatch failures as Slurm prints them. Texts: `src/common/slurm_errno.c` and `src/sbatch/sbatch.c`
 * of the Slurm versions named in each case (the `sbatch: error:` prefix is sbatch's log prefix).
 */
import { describe, expect, it } from 'vitest';
import { classifySbatchFailure } from './sbatch-errors.js';

const POLICY =
  "sbatch: error: Batch job submission failed: Job violates accounting/QOS policy (job submit limit, user's size and/or time limits)";

describe('classifySbatchFailure', () => {
  it('accounting/QOS policy: transient only for submit-count limits (22.05–26.05, AccountingStorageEnforce=limits)', () => {
    for (const reason of [
      'QOSMaxSubmitJobPerUserLimit',
      'QOSMaxSubmitJobPerAccountLimit',
      'AssocMaxSubmitJobLimit',
      'AssocGrpSubmitJobsLimit',
      'QOSGrpSubmitJobsLimit',
    ]) {
      const v = classifySbatchFailure(`sbatch: error: ${reason}\n${POLICY}\n`);
      expect(v, reason).toMatchObject({ transient: true, maybeSubmitted: false });
      expect(v.summary).toContain(reason);
    }
    for (const reason of [
      'QOSMaxWallDurationPerJobLimit',
      'QOSMaxCpuPerJobLimit',
      'AssocGrpCPUMinutesLimit',
    ]) {
      const v = classifySbatchFailure(`sbatch: error: ${reason}\n${POLICY}\n`);
      expect(v, reason).toMatchObject({ transient: false, maybeSubmitted: false });
      expect(v.summary).toBe(`Slurm refused the job under its accounting/QOS policy (${reason})`);
    }
    // No reason line at all (older sites, plugins): the request itself is refused.
    expect(classifySbatchFailure(`${POLICY}\n`)).toMatchObject({ transient: false });
  });

  it('a full job queue is transient: 26.05 "MaxJobCount limit reached", ≤ 25.05 "Unable to create job record"', () => {
    const retrying = 'sbatch: error: Slurm job queue full, sleeping and retrying\n';
    expect(
      classifySbatchFailure(
        `${retrying}sbatch: error: Batch job submission failed: MaxJobCount limit reached\n`,
      ),
    ).toMatchObject({
      transient: true,
      maybeSubmitted: false,
      summary: expect.stringMatching(/job queue is full/),
    });
    expect(
      classifySbatchFailure(
        `${retrying}sbatch: error: Batch job submission failed: Unable to create job record, try again\n`,
      ),
    ).toMatchObject({ transient: true, maybeSubmitted: false });
  });

  it('a lost answer is transient and maybe submitted (job may exist)', () => {
    for (const text of [
      'sbatch: error: Batch job submission failed: Socket timed out on send/recv operation',
      'sbatch: error: Batch job submission failed: Zero Bytes were transmitted or received',
      'sbatch: error: Batch job submission failed: Unable to contact slurm controller (receive failure)',
      'sbatch: error: Batch job submission failed: Connection timed out reading',
    ])
      expect(classifySbatchFailure(text), text).toMatchObject({ transient: true, maybeSubmitted: true });
  });

  it('an unreachable or busy controller is transient, not maybe submitted', () => {
    for (const text of [
      'sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)',
      'sbatch: error: Batch job submission failed: Rate limit exceeded, please retry momentarily',
      'sbatch: error: Batch job submission failed: Slurm backup controller in standby mode',
      'sbatch: error: Batch job submission failed: Connection timed out establishing',
    ])
      expect(classifySbatchFailure(text), text).toMatchObject({ transient: true, maybeSubmitted: false });
  });

  it('anything else is a permanent refusal with sbatch’s last line', () => {
    for (const text of [
      'sbatch: error: invalid partition specified: nosuchpart\nsbatch: error: Batch job submission failed: Invalid partition name specified',
      'sbatch: error: Batch job submission failed: Invalid qos specification',
      'sbatch: error: Batch job submission failed: Invalid feature specification',
      'sbatch: error: Batch job submission failed: Requested reservation is invalid',
    ]) {
      const v = classifySbatchFailure(text);
      expect(v, text).toMatchObject({ transient: false, maybeSubmitted: false });
      expect(v.summary).toBe(`sbatch refused the job: ${text.split('\n').at(-1)}`);
    }
  });
});
