/**
 * The `forgotten_jobs` table (migration 7, issue 22): jobs the user hid from the jobs list
 * ("Forget": a finished job ScriptHut did not start, or a finished task's row), per backend, with
 * when. They stay hidden across restarts until pruned: once older than the retention setting, or
 * once the scheduler no longer lists the job and no stored task has it.
 */
import type { Database } from 'better-sqlite3';

/** The SQL of migration 7. */
export const FORGOTTEN_JOBS_SQL = `
CREATE TABLE forgotten_jobs (
  backend_name TEXT NOT NULL,
  job_id TEXT NOT NULL,
  forgotten_at TEXT NOT NULL,
  PRIMARY KEY (backend_name, job_id)
);
CREATE INDEX forgotten_jobs_at ON forgotten_jobs (forgotten_at);
`;

/** A job hidden from the jobs list. */
export interface ForgottenJob {
  backend: string;
  jobId: string;
  /** ISO time of the Forget. */
  forgottenAt: string;
}

/**
 * What the runtime needs to keep forgotten jobs (implemented by `SqliteRunStore`). Writes are
 * idempotent; the prune calls return the entries removed.
 */
export interface ForgottenJobStore {
  /** Records (or re-dates) a forgotten job. */
  forgetJob(backend: string, jobId: string, atIso: string): void;
  /** Every forgotten job, oldest first. */
  forgottenJobs(): ForgottenJob[];
  /** Removes the entries forgotten before `cutoffIso` (retention). */
  pruneForgottenJobsBefore(cutoffIso: string): ForgottenJob[];
  /**
   * Removes the entries of `backend` forgotten before `listedAfterIso` whose job is neither in
   * `listed` (the scheduler's current listing) nor the job of a stored task of that backend.
   */
  pruneUnlistedForgottenJobs(
    backend: string,
    listed: readonly string[],
    listedAfterIso: string,
  ): ForgottenJob[];
}

interface Row {
  backend_name: string;
  job_id: string;
  forgotten_at: string;
}

const toJob = (r: Row): ForgottenJob => ({
  backend: r.backend_name,
  jobId: r.job_id,
  forgottenAt: r.forgotten_at,
});

export function forgetJob(db: Database, backend: string, jobId: string, atIso: string): void {
  db.prepare(
    `INSERT INTO forgotten_jobs (backend_name, job_id, forgotten_at) VALUES (?, ?, ?)
     ON CONFLICT (backend_name, job_id) DO UPDATE SET forgotten_at = excluded.forgotten_at`,
  ).run(backend, jobId, atIso);
}

export function forgottenJobs(db: Database): ForgottenJob[] {
  return (
    db.prepare('SELECT * FROM forgotten_jobs ORDER BY forgotten_at, backend_name, job_id').all() as Row[]
  ).map(toJob);
}

export function pruneForgottenJobsBefore(db: Database, cutoffIso: string): ForgottenJob[] {
  return db
    .transaction(() => {
      const rows = db.prepare('SELECT * FROM forgotten_jobs WHERE forgotten_at < ?').all(cutoffIso) as Row[];
      db.prepare('DELETE FROM forgotten_jobs WHERE forgotten_at < ?').run(cutoffIso);
      return rows.map(toJob);
    })
    .immediate();
}

export function pruneUnlistedForgottenJobs(
  db: Database,
  backend: string,
  listed: readonly string[],
  listedAfterIso: string,
): ForgottenJob[] {
  const keep = new Set(listed);
  return db
    .transaction(() => {
      const candidates = (
        db
          .prepare(
            `SELECT f.* FROM forgotten_jobs f
           WHERE f.backend_name = ? AND f.forgotten_at < ?
             AND NOT EXISTS (SELECT 1 FROM tasks t JOIN runs r ON r.id = t.run_id
                             WHERE t.job_id = f.job_id AND r.backend_name = f.backend_name)`,
          )
          .all(backend, listedAfterIso) as Row[]
      ).filter((r) => !keep.has(r.job_id));
      const del = db.prepare('DELETE FROM forgotten_jobs WHERE backend_name = ? AND job_id = ?');
      for (const r of candidates) del.run(r.backend_name, r.job_id);
      return candidates.map(toJob);
    })
    .immediate();
}
