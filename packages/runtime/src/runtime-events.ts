/**
 * What the runtime tells its listeners: the engine's task and run events passed on with secret
 * values redacted (like every other view the runtime returns), and notifications (UI, webhook).
 */
import type { EventEmitter } from 'node:events';
import type {
  Engine,
  RunNotificationOutbox,
  RunRecord,
  RunStore,
  RunSummary,
  TaskRecord,
} from '@scripthut/core';
import {
  NotificationHub,
  type NotificationStats,
  statsOf,
  WebhookNotifier,
  type WebhookNotifierOptions,
} from './notifications.js';
import { redactRun, redactSummary, redactTask } from './redact.js';

/** The engine events the runtime passes on. */
const FORWARDED = ['task', 'run', 'poll', 'run-created', 'run-deleted'] as const;

/** Re-emits the engine's task, run and poll events on `out` with secret values redacted. */
export function forwardRedactedEvents(
  engine: Pick<Engine, 'events'>,
  store: Pick<RunStore, 'getRun'>,
  out: EventEmitter,
): void {
  new RedactedEventForwarder(engine, store, out);
}

/** Task events are redacted with the secrets of their run's environments (cached per run). */
class RedactedEventForwarder {
  /** Environment snapshots of recent runs, for redacting task events without a store read each. */
  private readonly runEnvironments = new Map<string, RunRecord['environments']>();

  constructor(
    engine: Pick<Engine, 'events'>,
    private readonly store: Pick<RunStore, 'getRun'>,
    out: EventEmitter,
  ) {
    for (const event of FORWARDED) {
      (engine.events as unknown as EventEmitter).on(event, (payload: unknown) =>
        out.emit(event, this.redact(event, payload)),
      );
    }
  }

  private environmentsOf(runId: string): RunRecord['environments'] {
    const cached = this.runEnvironments.get(runId);
    if (cached) return cached;
    const envs = this.store.getRun(runId)?.environments;
    if (!envs) return {}; // not stored (yet): never cache a guess
    if (this.runEnvironments.size >= 1000) this.runEnvironments.clear();
    this.runEnvironments.set(runId, envs);
    return envs;
  }

  /** Event payloads leave the runtime with secret values redacted, like every other view. */
  private redact(event: string, payload: unknown): unknown {
    switch (event) {
      case 'task': {
        const p = payload as { runId: string; task: TaskRecord };
        return { ...p, task: redactTask(p.task, this.environmentsOf(p.runId)) };
      }
      case 'run': {
        const p = payload as { summary: RunSummary };
        return { ...p, summary: redactSummary(p.summary) };
      }
      case 'run-created': {
        const p = payload as { run: RunRecord };
        this.runEnvironments.set(p.run.id, p.run.environments);
        return { ...p, run: redactRun(p.run) };
      }
      case 'run-deleted':
        this.runEnvironments.delete((payload as { runId: string }).runId);
        return payload;
      default:
        return payload;
    }
  }
}

/**
 * Notifications of the runtime: UI notifications (a run finished, a task failed) emitted on `out`
 * as `notification` events, and the `settings.notify_url` webhook while the engine runs.
 */
export class RuntimeNotifications {
  private readonly hub: NotificationHub;
  private webhook: WebhookNotifier | null = null;

  constructor(
    private readonly engine: Pick<Engine, 'events' | 'activeRunIds' | 'summary'>,
    private readonly store: RunStore,
    out: EventEmitter,
  ) {
    this.hub = new NotificationHub((e) => out.emit('notification', e));
    engine.events.on('task', (e) => {
      if (e.task.state === 'failed') this.hub.onTask(e, store.getRun(e.runId)?.workflowName ?? e.runId);
    });
    engine.events.on('run', (e) => {
      this.hub.onRun(e.summary);
      if (e.summary.status !== 'running' && e.summary.status !== 'pending') this.webhook?.kick();
    });
  }

  /** Starts delivering finished runs to the webhook at `url()` (read at each delivery: it reloads live). */
  startWebhook(url: () => string | null, log: WebhookNotifierOptions['log']): void {
    this.webhook = new WebhookNotifier({
      outbox: this.store as unknown as RunNotificationOutbox,
      url,
      summary: (runId) => this.store.summarizeRun(runId),
      log,
    });
    this.webhook.start();
  }

  /** Stops the webhook (resolves when a delivery in flight has ended). */
  async stopWebhook(): Promise<void> {
    await this.webhook?.stop();
  }

  /** Live counts for the page title (active runs' tasks). */
  stats(): NotificationStats {
    return statsOf(
      this.engine.activeRunIds().flatMap((id) => {
        const s = this.engine.summary(id);
        return s ? [s] : [];
      }),
    );
  }
}
