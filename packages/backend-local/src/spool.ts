/**
 * The spool directory of the local backend, its whole state (see `local-backend.ts`): the file
 * names of a job, the {@link SpoolRecord} (`<jobId>.json`) and the exit marker (`<jobId>.rc`), with
 * atomic writes so that a reader never sees half a file.
 */
import { randomBytes } from 'node:crypto';
import {
  linkSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/** What the spool keeps about one job (`<jobId>.json`). */
export interface SpoolRecord {
  jobId: string;
  tag: string;
  runId: string;
  taskId: string;
  /** Null until the process is started (a crash in between leaves a record without pid). */
  pid: number | null;
  pgid: number | null;
  /** Linux start time of the process (pid reuse guard). */
  startTime?: string | null;
  submittedAt: string;
  stdout: string;
  stderr: string;
  cpus: number;
  cancelledAt?: string | null;
  /** Memory the task asked for (MiB), for usage reports. */
  memoryMiB?: number | null;
  /** Where GNU time writes the job's usage; null/absent when GNU time was not available. */
  usagePath?: string | null;
}

/** The files of a job in the spool. */
export type SpoolFileKind = 'sh' | 'json' | 'rc' | 'abandoned' | 'usage';

/** An ended job's exit marker: its exit code and when it was written. */
export interface SpoolExit {
  code: number;
  at: string;
}

const JOB_ID = /^[0-9a-f]{12}$/;

/** A fresh job id: 12 lowercase hex characters. */
export function newJobId(): string {
  return randomBytes(6).toString('hex');
}

/** Writes `path` through a temporary file and a rename: readers see the old or the new content. */
export function writeAtomic(path: string, content: string, mode = 0o644): void {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, content, { mode });
  renameSync(tmp, path);
}

/** Create `path` with `content` only if it does not exist yet (atomic). Returns false if it existed. */
export function createExclusive(path: string, content: string): boolean {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, content);
  try {
    linkSync(tmp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkSync(tmp);
  }
}

/** Reads and writes the files of the jobs in one spool directory. */
export class Spool {
  /** @param dir Absolute spool directory. */
  constructor(readonly dir: string) {}

  /** Path of a spool file of a job. */
  path(jobId: string, ext: SpoolFileKind): string {
    return join(this.dir, `${jobId}.${ext}`);
  }

  /** The spool record of a job, or null. */
  readRecord(jobId: string): SpoolRecord | null {
    if (!JOB_ID.test(jobId)) return null;
    try {
      return JSON.parse(readFileSync(this.path(jobId, 'json'), 'utf8')) as SpoolRecord;
    } catch {
      return null;
    }
  }

  /** Replaces the record of `record.jobId` (atomically, mode 0600). */
  writeRecord(record: SpoolRecord): void {
    writeAtomic(this.path(record.jobId, 'json'), JSON.stringify(record), 0o600);
  }

  /** Exit code and time of a finished job, or null while it runs. */
  readExit(jobId: string): SpoolExit | null {
    if (!JOB_ID.test(jobId)) return null;
    const path = this.path(jobId, 'rc');
    try {
      const text = readFileSync(path, 'utf8').trim();
      if (!/^\d+$/.test(text)) return null;
      return { code: Number(text), at: statSync(path).mtime.toISOString() };
    } catch {
      return null;
    }
  }

  /** Job ids in the spool (from `*.json`). */
  jobIds(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    return names.filter((n) => n.endsWith('.json') && JOB_ID.test(n.slice(0, -5))).map((n) => n.slice(0, -5));
  }
}
