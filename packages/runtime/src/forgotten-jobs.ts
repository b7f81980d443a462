/**
 * Jobs hidden from the jobs list by "Forget" (issue 22). They are kept per backend in the store's
 * `forgotten_jobs` table, so they stay hidden after a restart, and mirrored in a set the jobs list
 * reads. An entry goes away once older than `settings.retention_days` (0 keeps them), or once the
 * scheduler no longer lists the job and no stored task has it (it could not reappear anyway).
 */
import { type ExternalJob, type RunStore, ScriptHutError } from '@scripthut/core';
import type { ForgottenJobStore } from '@scripthut/store';

const DAY_MS = 86_400_000;

type Log = { warn(msg: string): void; info(msg: string): void };

/** The store's forgotten-jobs table (the SQLite store has one). */
export function forgottenJobStore(store: RunStore): ForgottenJobStore {
  const s = store as Partial<ForgottenJobStore>;
  if (typeof s.forgetJob !== 'function' || typeof s.forgottenJobs !== 'function')
    throw new ScriptHutError('not_implemented', 'this store cannot remember forgotten jobs');
  return store as unknown as ForgottenJobStore;
}

/** `backend:jobId` of every forgotten job; empty (with a warning) when the store cannot say. */
export function loadForgottenJobs(store: RunStore, log: Log): Set<string> {
  try {
    return new Set(
      forgottenJobStore(store)
        .forgottenJobs()
        .map((j) => `${j.backend}:${j.jobId}`),
    );
  } catch (e) {
    // e.g. a read-only view of a file from before the forgotten_jobs migration
    log.warn(`forgotten jobs are not available: ${(e as Error).message}`);
    return new Set();
  }
}

/**
 * After a successful listing of `backend` that began at `listedAtIso`: forget the forgotten jobs
 * it no longer has (and no task has), in the store and in `hidden`.
 */
export function pruneUnlistedForgottenJobs(
  store: RunStore,
  backend: string,
  listing: readonly ExternalJob[],
  listedAtIso: string,
  hidden: Set<string>,
  log: Log,
): void {
  if (![...hidden].some((k) => k.startsWith(`${backend}:`))) return;
  try {
    const pruned = forgottenJobStore(store).pruneUnlistedForgottenJobs(
      backend,
      listing.map((j) => j.jobId),
      listedAtIso,
    );
    for (const j of pruned) hidden.delete(`${j.backend}:${j.jobId}`);
  } catch (e) {
    log.warn(`backend ${backend}: pruning forgotten jobs failed: ${(e as Error).message}`);
  }
}

/** Retention: drop the entries forgotten more than `days` days before `nowMs` (0 keeps them all). */
export function pruneExpiredForgottenJobs(
  store: RunStore,
  days: number,
  nowMs: number,
  hidden: Set<string>,
  log: Log,
): number {
  if (!(days > 0)) return 0;
  try {
    const pruned = forgottenJobStore(store).pruneForgottenJobsBefore(
      new Date(nowMs - days * DAY_MS).toISOString(),
    );
    for (const j of pruned) hidden.delete(`${j.backend}:${j.jobId}`);
    if (pruned.length)
      log.info(`retention: ${pruned.length} forgotten job(s) older than ${days} days pruned`);
    return pruned.length;
  } catch (e) {
    log.warn(`retention: pruning forgotten jobs failed: ${(e as Error).message}`);
    return 0;
  }
}
