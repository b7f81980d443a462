/**
 * What an AWS backend learned about a job the first time it saw it finished, kept on the control
 * plane because AWS forgets: Batch's DescribeJobs stops returning a finished job after about a
 * day, ECS's DescribeTasks a stopped task after about an hour, and an EC2 task's result is gone
 * with its instance. Later status polls and log reads answer from the record.
 */
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Options of {@link FinishedJobStore}. */
export interface FinishedJobStoreOptions {
  /**
   * Directory of the record files (`<dir>/<run id>.jsonl`, one line per job, the last line of a job
   * wins). Null: records live in memory only and are lost on restart.
   */
  dir: string | null;
  /**
   * With a `dir`: runs whose records stay loaded in memory (the least recently used are dropped and
   * read again from their file when needed; default 16).
   */
  maxCachedRuns?: number;
  /** Told when a record cannot be written (the record stays in memory). */
  onError?: (message: string) => void;
}

/** A run id or job id made safe as one file name component. */
function fileSafe(value: string): string {
  return value.replace(/[/\\\0]/g, '_').replace(/^\.+/, '_') || '_';
}

/**
 * Records of finished jobs, per run, in memory and (with a `dir`) in append-only JSON-lines files.
 *
 * @example
 * ```ts
 * const finished = new FinishedJobStore<{ state: string; logStream: string | null }>({
 *   dir: join(dataDir, 'batch-jobs'),
 * });
 * if (status.final && !finished.get(job.runId, job.jobId))
 *   finished.put(job.runId, job.jobId, { state: status.state, logStream });
 * // days later, when AWS no longer describes the job:
 * const known = finished.get(job.runId, job.jobId);
 * ```
 */
export class FinishedJobStore<T> {
  private readonly runs = new Map<string, Map<string, T>>();
  private readonly maxRuns: number;

  constructor(private readonly options: FinishedJobStoreOptions) {
    this.maxRuns = Math.max(1, options.maxCachedRuns ?? 16);
  }

  /** The record of `jobId` in run `runId`, if any. */
  get(runId: string, jobId: string): T | undefined {
    return this.run(runId).get(jobId);
  }

  /** Records (or replaces) what is known about a finished job. Never throws. */
  put(runId: string, jobId: string, record: T): void {
    this.run(runId).set(jobId, record);
    if (!this.options.dir) return;
    try {
      mkdirSync(this.options.dir, { recursive: true });
      appendFileSync(this.fileOf(runId), `${JSON.stringify({ jobId, record })}\n`, { mode: 0o600 });
    } catch (err) {
      this.options.onError?.(`cannot record the result of job ${jobId}: ${(err as Error).message}`);
    }
  }

  private fileOf(runId: string): string {
    return join(this.options.dir!, `${fileSafe(runId)}.jsonl`);
  }

  private run(runId: string): Map<string, T> {
    let records = this.runs.get(runId);
    if (records) {
      // Most recently used last.
      this.runs.delete(runId);
      this.runs.set(runId, records);
      return records;
    }
    records = this.load(runId);
    this.runs.set(runId, records);
    // Without a directory memory is the only copy: nothing is dropped.
    while (this.options.dir && this.runs.size > this.maxRuns)
      this.runs.delete(this.runs.keys().next().value!);
    return records;
  }

  private load(runId: string): Map<string, T> {
    const records = new Map<string, T>();
    if (!this.options.dir) return records;
    let text: string;
    try {
      text = readFileSync(this.fileOf(runId), 'utf8');
    } catch {
      return records;
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const entry = JSON.parse(line) as { jobId?: unknown; record?: T };
        if (typeof entry.jobId === 'string' && entry.record !== undefined)
          records.set(entry.jobId, entry.record);
      } catch {
        // A line cut short by a crash mid-write: the job is simply not recorded.
      }
    }
    return records;
  }
}
