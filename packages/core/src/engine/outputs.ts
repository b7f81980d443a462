/**
 * Recording task outputs: when a task with a job ends, it is queued for its backend; each tick of
 * that backend makes ONE `backend.listOutputs` call for the due part of the queue (at most
 * {@link OUTPUT_BATCH} tasks) and stores the listings. A failing call is retried with backoff and
 * never counts as a backend error (it does not hold submissions back). A missing output directory is
 * looked at once more after {@link MISSING_RECHECK_MS} (a shared file system may show a directory the
 * compute node created late). At start, tasks that ended without a listing are queued again.
 */
import type { Backend } from '../backend.js';
import { toError } from '../errors.js';
import {
  type OutputListing,
  type OutputListingRequest,
  type TaskOutputStore,
  taskOutputPaths,
} from '../outputs.js';
import type { RunStore } from '../store.js';
import type { EngineLogger } from './types.js';

/** Tasks listed per call. */
export const OUTPUT_BATCH = 100;
/** Delay before a missing output directory is looked at again. */
export const MISSING_RECHECK_MS = 30_000;
/** Failed listing calls before a task is recorded with the error. */
export const MAX_OUTPUT_ATTEMPTS = 6;

interface Entry {
  runId: string;
  taskId: string;
  attempts: number;
  missingSeen: boolean;
  notBefore: number;
}

const keyOf = (runId: string, taskId: string) => `${runId}\n${taskId}`;

/** The per-backend queues of tasks whose outputs are to be recorded. */
export class OutputCollector {
  private readonly queues = new Map<string, Map<string, Entry>>();

  constructor(
    private readonly outputs: TaskOutputStore,
    private readonly runs: RunStore,
    private readonly now: () => Date,
    private readonly log: EngineLogger,
  ) {}

  /** Queue a task that ended (no-op for backends without outputs). */
  enqueue(backend: Backend, runId: string, taskId: string): void {
    if (!backend.listOutputs) return;
    let q = this.queues.get(backend.name);
    if (!q) {
      q = new Map();
      this.queues.set(backend.name, q);
    }
    const key = keyOf(runId, taskId);
    if (!q.has(key)) q.set(key, { runId, taskId, attempts: 0, missingSeen: false, notBefore: 0 });
  }

  /** Queue the tasks that ended without a listing (engine start). */
  restore(backends: readonly Backend[]): void {
    const able = backends.filter((b) => b.listOutputs);
    if (!able.length) return;
    const byName = new Map(able.map((b) => [b.name, b]));
    try {
      for (const { runId, taskId } of this.outputs.tasksAwaitingOutputs([...byName.keys()], 10_000)) {
        const backend = byName.get(this.runs.getRun(runId)?.backendName ?? '');
        if (backend) this.enqueue(backend, runId, taskId);
      }
    } catch (e) {
      this.log.warn(`cannot restore the output listings to make: ${toError(e).message}`);
    }
  }

  /** Number of queued tasks of a backend (tests). */
  queued(backendName: string): number {
    return this.queues.get(backendName)?.size ?? 0;
  }

  /** True when some queued task of the backend is due now. */
  isDue(backendName: string): boolean {
    const q = this.queues.get(backendName);
    if (!q?.size) return false;
    const now = this.now().getTime();
    for (const e of q.values()) if (e.notBefore <= now) return true;
    return false;
  }

  /** ONE listing call for the due tasks of `backend`; never throws. Resolves the number recorded. */
  async collect(backend: Backend): Promise<number> {
    const q = this.queues.get(backend.name);
    if (!q?.size || !backend.listOutputs) return 0;
    const nowMs = this.now().getTime();
    const due: Entry[] = [];
    const requests: OutputListingRequest[] = [];
    for (const [key, e] of q) {
      if (due.length >= OUTPUT_BATCH) break;
      if (e.notBefore > nowMs) continue;
      const run = this.runs.getRun(e.runId);
      const task = run ? this.runs.getTask(e.runId, e.taskId) : null;
      if (!run || !task) {
        q.delete(key); // deleted meanwhile
        continue;
      }
      due.push(e);
      requests.push({ key, paths: taskOutputPaths(run.logDir, run.id, task.spec.id, task.seq) });
    }
    if (!requests.length) return 0;
    let answer: Map<string, OutputListing>;
    try {
      answer = await backend.listOutputs(requests);
    } catch (e) {
      const message = toError(e).message;
      this.log.warn(`backend ${backend.name}: listing task outputs failed: ${message}`);
      for (const entry of due) {
        entry.attempts++;
        if (entry.attempts >= MAX_OUTPUT_ATTEMPTS) {
          this.save(entry, null, `the outputs could not be listed: ${message}`);
          q.delete(keyOf(entry.runId, entry.taskId));
        } else entry.notBefore = nowMs + Math.min(300_000, 5_000 * 2 ** (entry.attempts - 1));
      }
      return 0;
    }
    let recorded = 0;
    for (const entry of due) {
      const key = keyOf(entry.runId, entry.taskId);
      const listing = answer.get(key);
      if (!listing) continue; // not answered: asked again next tick
      if (listing.missing && !entry.missingSeen) {
        entry.missingSeen = true;
        entry.notBefore = nowMs + MISSING_RECHECK_MS;
        continue;
      }
      this.save(entry, listing, null);
      q.delete(key);
      recorded++;
    }
    return recorded;
  }

  private save(entry: Entry, listing: OutputListing | null, error: string | null): void {
    try {
      this.outputs.saveTaskOutputs({
        runId: entry.runId,
        taskId: entry.taskId,
        listedAt: this.now().toISOString(),
        missing: listing?.missing ?? true,
        files: listing?.files ?? [],
        truncated: listing?.truncated ?? false,
        skipped: listing?.skipped ?? 0,
        taskSummary: listing?.taskSummary ?? null,
        runSummary: listing?.runSummary ?? null,
        error,
      });
    } catch (e) {
      // the run may have been deleted meanwhile
      this.log.warn(`cannot record the outputs of ${entry.runId}/${entry.taskId}: ${toError(e).message}`);
    }
  }
}
