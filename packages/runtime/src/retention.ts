/**
 * Run retention (`settings.retention_days`, default 30; 0 keeps everything): finished runs whose
 * last task ended (or, without one, that were created) more than that many days ago are deleted,
 * with their store rows and the copies of their logs ScriptHut wrote on this machine (the default
 * log files of local-backend runs; files a task named itself with output_file/error_file are left
 * alone). The usage ledger keeps their CPU-hours. Runs on remote backends keep their logs there.
 */
import { rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { defaultLogPaths, type RunStatus, type RunStore, type RunSummary } from '@scripthut/core';

const FINISHED: RunStatus[] = ['completed', 'failed', 'cancelled'];
const DAY_MS = 86_400_000;

/** What a retention sweep needs. */
export interface RetentionDeps {
  store: RunStore;
  /** Deletes a run (store rows, engine events). */
  deleteRun(runId: string): void;
  /** Backend type of a backend name (`local` runs have their logs on this machine). */
  backendType(name: string): string | null;
  log: { info(msg: string, data?: object): void; warn(msg: string, data?: object): void };
  now?: () => number;
}

/** Finished runs older than `days` (by last finish, else creation), oldest first. */
export function expiredRuns(store: RunStore, days: number, nowMs: number): RunSummary[] {
  if (!(days > 0)) return [];
  const cutoff = nowMs - days * DAY_MS;
  const out: RunSummary[] = [];
  for (const status of FINISHED) {
    for (let offset = 0; ; offset += 500) {
      const { items } = store.listRuns({ status, limit: 500, offset });
      for (const s of items) {
        const at = Date.parse(s.lastFinishedAt ?? s.run.createdAt);
        if (Number.isFinite(at) && at < cutoff) out.push(s);
      }
      if (items.length < 500) break;
    }
  }
  return out.sort((a, b) => (a.run.createdAt < b.run.createdAt ? -1 : 1));
}

const expand = (p: string) => (p === '~' ? homedir() : p.startsWith('~/') ? `${homedir()}${p.slice(1)}` : p);

/** Delete expired runs; resolves the ids deleted. Each deletion is logged. */
export function sweepRetention(deps: RetentionDeps, days: number): string[] {
  const deleted: string[] = [];
  for (const s of expiredRuns(deps.store, days, (deps.now ?? Date.now)())) {
    const { run } = s;
    const files: string[] = [];
    if (deps.backendType(run.backendName) === 'local') {
      for (const t of deps.store.allTasks(run.id)) {
        const d = defaultLogPaths(run.logDir, run.id, t.spec.id, t.seq);
        if (t.stdoutPath === d.out) files.push(expand(d.out));
        if (t.stderrPath === d.err) files.push(expand(d.err));
      }
    }
    try {
      deps.deleteRun(run.id);
    } catch (e) {
      deps.log.warn(`retention: cannot delete run ${run.id}: ${(e as Error).message}`);
      continue;
    }
    let removed = 0;
    for (const f of files) {
      try {
        rmSync(f, { force: true });
        removed++;
      } catch {
        // a log file we cannot remove stays; the run is gone
      }
    }
    deleted.push(run.id);
    deps.log.info(
      `retention: deleted run ${run.id} (${run.workflowName}, finished ${s.lastFinishedAt ?? run.createdAt}, older than ${days} days)${removed ? `, ${removed} local log file(s)` : ''}`,
    );
  }
  return deleted;
}
