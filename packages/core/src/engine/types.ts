/**
 * Public option and state types of the {@link Engine}, kept apart from the engine itself so that
 * modules such as dry runs ({@link previewRun}) can use them without importing the engine.
 */
import type { Backend, ClusterInfo } from '../backend.js';
import type { GitContext, RunOrigin, RunRecord, TaskSpec } from '../domain.js';
import type { TaskOutputStore } from '../outputs.js';
import type { RunStore } from '../store.js';
import type { ArrayOptions } from './arrays.js';

/** Minimal structured logger. */
export interface EngineLogger {
  info(msg: string, data?: object): void;
  warn(msg: string, data?: object): void;
  error(msg: string, data?: object): void;
}

export interface EngineOptions {
  store: RunStore;
  backends: Backend[];
  /** Base interval between polls of a backend (jittered ±10%). */
  pollIntervalMs: number;
  /** Clock (tests). */
  now?: () => Date;
  logger?: EngineLogger;
  /** Grace before a job missing from the scheduler is treated as lost (default 10 min). */
  lostJobGraceMs?: number;
  /**
   * How long a task that exited 0 may show its declared `outputs` missing before it fails (a file a
   * compute node wrote can take a while to appear on the login node's NFS view). Default 30 s.
   */
  outputsGraceMs?: number;
  /**
   * How long the engine keeps asking a backend for the usage of an ended job (accounting lag)
   * before it records the usage as unavailable (default 10 min).
   */
  usageGraceMs?: number;
  /** How often the loops refresh `clusterInfo()` (default 60 s; 0 disables). */
  clusterInfoIntervalMs?: number;
  /**
   * When false, `start()` restores and adopts runs but starts no timers: ticks happen only through
   * {@link Engine.tick} (deterministic tests, benchmarks). Default true.
   */
  autoLoop?: boolean;
  /**
   * What a task state change outside the transitions table ({@link TASK_TRANSITIONS}) does: `true`
   * throws an {@link IllegalTransitionError} before anything is written (tests), `false` logs it as
   * an error and applies it (production: a run must not stop on an engine bug). Default: `true` under
   * vitest (`process.env.VITEST` set), otherwise `false`.
   */
  strictTransitions?: boolean;
  /**
   * Where task output listings are recorded (usually the run store itself). When set, every task
   * that ends with a job on a backend with `listOutputs` is listed by the backend's next tick.
   */
  outputStore?: TaskOutputStore;
  /**
   * Job arrays per backend name (`mode: 'auto' | 'off'`, `minSize`): homogeneous ready tasks of a
   * run go out as one array job on backends that support arrays. Default `auto`, min size 2.
   */
  arrays?: Record<string, ArrayOptions>;
}

export interface CreateRunInput {
  workflowName: string;
  backendName: string;
  origin: RunOrigin;
  tasks: TaskSpec[];
  maxConcurrent: number | null;
  logDir?: string;
  baseDir?: string | null;
  git?: GitContext | null;
  environments?: RunRecord['environments'];
  /** `--resume`: reuse tasks completed by earlier runs (see docs/resume.md). */
  resume?: boolean;
  /** The workflow's `array: auto | off` (overrides the backend's for this run; see `arrays.ts`). */
  arrayMode?: RunRecord['arrayMode'];
}

/** Health of one backend loop, as shown by the UI. */
export interface BackendLoopState {
  lastPollAt: string | null;
  lastPollDurationMs: number | null;
  lastError: string | null;
  consecutiveErrors: number;
  /** Tasks holding (or possibly holding) a job on this backend. */
  inFlight: number;
  clusterInfo: ClusterInfo | null;
  clusterInfoAt: string | null;
}
