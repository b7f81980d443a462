/**
 * Typed events emitted by the {@link Engine}.
 */
import { EventEmitter } from 'node:events';
import type { RunRecord, TaskRecord, TaskState } from '../domain.js';
import type { RunSummary } from '../store.js';

/** A task changed (state or any other field). `from` is the previous state (null for new tasks). */
export interface TaskEvent {
  runId: string;
  task: TaskRecord;
  from: TaskState | null;
}
/** A run's counts or status changed. */
export interface RunEvent {
  runId: string;
  summary: RunSummary;
}
/** A backend poll finished. */
export interface PollEvent {
  backend: string;
  /** ISO time the poll started. */
  at: string;
  durationMs: number;
  error: string | null;
}

/** Event name → payload. */
export interface EngineEventMap {
  task: [TaskEvent];
  run: [RunEvent];
  poll: [PollEvent];
  'run-created': [{ run: RunRecord }];
  'run-deleted': [{ runId: string }];
}

/**
 * Typed event emitter of the engine (unlimited listeners: one per SSE client is expected).
 *
 * @example
 * ```ts
 * engine.events.on('run', ({ runId, summary }) => console.log(runId, summary.status));
 * ```
 */
export class EngineEvents extends EventEmitter<EngineEventMap> {
  constructor() {
    super();
    this.setMaxListeners(0);
  }
}
