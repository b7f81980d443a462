/**
 * Notifications: the hub turns engine events into `notification` events for the web UI (a run
 * finished, a task failed) and keeps the live counts of the page title; the webhook notifier POSTs
 * one small JSON document per finished run to `settings.notify_url`, from the store's outbox (one
 * row per finished run, written with the change that finished it): retried with backoff, marked
 * delivered so that a restart never sends it again, the URL never logged (only its origin).
 */
import {
  type RunNotificationOutbox,
  type RunStatus,
  type RunSummary,
  type StateCounts,
  type TaskRecord,
  type TaskState,
  toError,
} from '@scripthut/core';

/** A notification for the web UI. */
export interface NotificationEvent {
  /** Unique per event (the browser shows each once). */
  id: string;
  kind: 'run_done' | 'task_failed';
  level: 'success' | 'error' | 'info';
  runId: string;
  taskId: string | null;
  workflow: string;
  title: string;
  body: string;
  /** Page the notification links to. */
  url: string;
  at: string;
}

/** Counts for the page title, over the runs the engine drives. */
export interface NotificationStats {
  activeRuns: number;
  running: number;
  /** Pending, submitting, submitted and queued tasks. */
  waiting: number;
  completed: number;
  failed: number;
}

const TERMINAL_RUN: ReadonlySet<RunStatus> = new Set(['completed', 'failed', 'cancelled']);

/** Title counts from the summaries of active runs. */
export function statsOf(summaries: readonly RunSummary[]): NotificationStats {
  const s: NotificationStats = { activeRuns: 0, running: 0, waiting: 0, completed: 0, failed: 0 };
  for (const r of summaries) {
    if (TERMINAL_RUN.has(r.status)) continue;
    const c = r.counts;
    s.activeRuns++;
    s.running += c.running;
    s.waiting += c.pending + c.submitting + c.submitted + c.queued;
    s.completed += c.completed;
    s.failed += c.failed + c.dep_failed;
  }
  return s;
}

/**
 * Engine events → UI notifications: `task_failed` when a task becomes `failed`, `run_done` the first
 * time a run's status becomes terminal in this process (a run event repeated later says nothing new).
 */
export class NotificationHub {
  private seq = 0;
  private readonly announced = new Set<string>();

  constructor(
    private readonly emit: (e: NotificationEvent) => void,
    private readonly now: () => Date = () => new Date(),
  ) {}

  onTask(e: { runId: string; task: TaskRecord; from: TaskState | null }, workflow: string): void {
    if (e.task.state !== 'failed' || e.from === 'failed' || e.from === null) return;
    const reason = e.task.error ?? (e.task.exitCode !== null ? `exit code ${e.task.exitCode}` : 'failed');
    this.push({
      kind: 'task_failed',
      level: 'error',
      runId: e.runId,
      taskId: e.task.spec.id,
      workflow,
      title: `Task failed: ${e.task.spec.id}`,
      body: `${workflow} (${e.runId}): ${reason.split('\n')[0]!.slice(0, 200)}`,
      url: `/runs/${e.runId}/tasks/${encodeURIComponent(e.task.spec.id)}`,
    });
  }

  onRun(summary: RunSummary): void {
    if (!TERMINAL_RUN.has(summary.status) || this.announced.has(summary.run.id)) return;
    if (this.announced.size > 10_000) this.announced.clear();
    this.announced.add(summary.run.id);
    const c = summary.counts;
    const failed = c.failed + c.dep_failed;
    this.push({
      kind: 'run_done',
      level: summary.status === 'completed' ? 'success' : summary.status === 'failed' ? 'error' : 'info',
      runId: summary.run.id,
      taskId: null,
      workflow: summary.run.workflowName,
      title: `Run ${summary.status}: ${summary.run.workflowName}`,
      body: `${c.completed}/${summary.total} completed${failed ? `, ${failed} failed` : ''}${c.cancelled ? `, ${c.cancelled} cancelled` : ''}`,
      url: `/runs/${summary.run.id}`,
    });
  }

  private push(e: Omit<NotificationEvent, 'id' | 'at'>): void {
    const at = this.now();
    this.emit({
      ...e,
      id: `${at.getTime().toString(36)}-${(++this.seq).toString(36)}`,
      at: at.toISOString(),
    });
  }
}

/** The JSON document POSTed to `settings.notify_url` when a run finished. */
export interface RunFinishedPayload {
  event: 'run.finished';
  runId: string;
  workflow: string;
  backend: string;
  status: RunStatus;
  counts: StateCounts & { total: number };
  /** First submission to last end, in ms (null when no task ran). */
  durationMs: number | null;
  createdAt: string;
  finishedAt: string | null;
}

/** The webhook document of a finished run (names, states and counts only: no environment, no paths). */
export function runFinishedPayload(s: RunSummary): RunFinishedPayload {
  const start = s.firstSubmittedAt ? Date.parse(s.firstSubmittedAt) : Number.NaN;
  const end = s.lastFinishedAt ? Date.parse(s.lastFinishedAt) : Number.NaN;
  return {
    event: 'run.finished',
    runId: s.run.id,
    workflow: s.run.workflowName,
    backend: s.run.backendName,
    status: s.status,
    counts: { ...s.counts, total: s.total },
    durationMs: Number.isFinite(start) && Number.isFinite(end) ? Math.max(0, end - start) : null,
    createdAt: s.run.createdAt,
    finishedAt: s.lastFinishedAt,
  };
}

/** The origin of a URL (what logs may show), or `(invalid URL)`. */
export function urlOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}

/** Options of {@link WebhookNotifier}. */
export interface WebhookNotifierOptions {
  outbox: RunNotificationOutbox;
  /** The current `settings.notify_url` (read at every delivery: it reloads live). */
  url: () => string | null;
  /** Summary of a run (null when deleted). */
  summary: (runId: string) => RunSummary | null;
  log: { info(m: string): void; warn(m: string): void };
  fetch?: typeof fetch;
  now?: () => Date;
  /** Attempts before a delivery is given up (default 8). */
  maxAttempts?: number;
  /** Delay after the first failure; doubled each time, at most 10 min (default 5 s). */
  retryBaseMs?: number;
  /** How often due deliveries are looked for (default 5 s). */
  scanIntervalMs?: number;
  /** Timeout of one POST (default 10 s). */
  timeoutMs?: number;
}

/**
 * Delivers the outbox of finished runs to the webhook: ONE POST per run, `X-ScriptHut-Delivery:
 * <run id>` so that a receiver can drop the duplicate a crash between its answer and our record
 * could cause. Without a URL the rows are marked `skipped`.
 */
export class WebhookNotifier {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private readonly fetchFn: typeof fetch;
  private readonly now: () => Date;

  constructor(private readonly o: WebhookNotifierOptions) {
    this.fetchFn = o.fetch ?? fetch;
    this.now = o.now ?? (() => new Date());
  }

  start(): void {
    this.stopped = false;
    this.kick();
    const every = this.o.scanIntervalMs ?? 5_000;
    this.timer = setInterval(() => this.kick(), every);
    this.timer.unref();
  }

  /** Look for due deliveries now (a run just finished). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.deliverDue()
      .catch((e) => this.o.log.warn(`webhook: ${toError(e).message}`))
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Stop the timer and wait for a delivery in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Deliver every due row once (tests call it directly). */
  async deliverDue(): Promise<void> {
    const rows = this.o.outbox.dueRunNotifications(this.now().toISOString(), 50);
    for (const row of rows) {
      if (this.stopped) return;
      const url = this.o.url();
      const summary = this.o.summary(row.runId);
      if (!url || !summary) {
        this.o.outbox.updateRunNotification(row.runId, {
          state: 'skipped',
          lastError: url ? 'the run no longer exists' : null,
        });
        continue;
      }
      const attempt = row.attempts + 1;
      const error = await this.post(url, runFinishedPayload(summary));
      if (error === null) {
        this.o.outbox.updateRunNotification(row.runId, {
          state: 'delivered',
          attempts: attempt,
          deliveredAt: this.now().toISOString(),
          lastError: null,
          nextAttemptAt: null,
        });
        continue;
      }
      const max = this.o.maxAttempts ?? 8;
      const giveUp = attempt >= max;
      const delay = Math.min(600_000, (this.o.retryBaseMs ?? 5_000) * 2 ** (attempt - 1));
      this.o.outbox.updateRunNotification(row.runId, {
        state: giveUp ? 'failed' : 'pending',
        attempts: attempt,
        lastError: error,
        nextAttemptAt: giveUp ? null : new Date(this.now().getTime() + delay).toISOString(),
      });
      this.o.log.warn(
        `webhook to ${urlOrigin(url)} for run ${row.runId} failed (attempt ${attempt}/${max}): ${error}${giveUp ? '; giving up' : `; retrying in ${Math.round(delay / 1000)} s`}`,
      );
    }
  }

  /** POST the payload; null on a 2xx answer, else the reason (never the URL). */
  private async post(url: string, payload: RunFinishedPayload): Promise<string | null> {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return 'settings.notify_url is not a valid URL';
    }
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'ScriptHut-webhook',
      'x-scripthut-delivery': payload.runId,
    };
    // fetch refuses credentials in a URL: they travel as HTTP basic authentication instead
    if (target.username || target.password) {
      const user = decodeURIComponent(target.username);
      const pass = decodeURIComponent(target.password);
      headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
      target.username = '';
      target.password = '';
    }
    try {
      const res = await this.fetchFn(target, {
        method: 'POST',
        headers,
        body: JSON.stringify(payload),
        redirect: 'manual',
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000),
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.status >= 200 && res.status < 300 ? null : `HTTP ${res.status}`;
    } catch (e) {
      const err = toError(e);
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      // fetch errors may quote the URL: report only their kind
      return err.name === 'TimeoutError' ? 'timed out' : `request failed${cause ? ` (${cause})` : ''}`;
    }
  }
}
