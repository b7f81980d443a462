/**
 * Views of task outputs for the API and UI: the recorded listing of a task, one recorded file read
 * from its backend (only paths the listing recorded: nothing else can be asked for), and the run
 * summary made of the tasks' `SCRIPTHUT_RUN_SUMMARY` fragments.
 */
import {
  type Backend,
  type CapturedSummary,
  isSafeOutputPath,
  OUTPUT_LIMITS,
  type OutputFile,
  type OutputKind,
  outputContentType,
  outputKind,
  type RunRecord,
  ScriptHutError,
  type StoredOutputListing,
  type TaskOutputStore,
  type TaskRecord,
  taskOutputPaths,
} from '@scripthut/core';

/** A recorded file with the way the UI shows it. */
export interface OutputFileView extends OutputFile {
  kind: OutputKind;
}

/** Outputs of one task. */
export interface TaskOutputsView {
  runId: string;
  taskId: string;
  /** `unavailable`: the backend has no outputs (Batch, EC2); `waiting`: not listed yet. */
  status: 'unavailable' | 'waiting' | 'listed';
  reason: string | null;
  listedAt: string | null;
  /** The directory is absent (nothing was written, or the job never started). */
  missing: boolean;
  files: OutputFileView[];
  truncated: boolean;
  skipped: number;
  taskSummary: CapturedSummary | null;
  error: string | null;
  limits: { maxFiles: number; maxFileBytes: number };
}

/** The run summary: the tasks' fragments in task order. */
export interface RunSummaryView {
  runId: string;
  available: boolean;
  reason: string | null;
  fragments: { taskId: string; text: string; truncated: boolean }[];
}

/** One file's bytes, ready to send. */
export interface OutputFileContent {
  path: string;
  kind: OutputKind;
  contentType: string;
  data: Buffer;
}

/** Why a backend has no outputs, or null when it has. */
export function outputsUnavailableReason(backend: Backend | null, backendName: string): string | null {
  if (!backend) return `backend "${backendName}" is not configured`;
  if (!backend.listOutputs || !backend.readOutputFile)
    return `outputs unavailable on this backend (${backend.type}): tasks run in containers or instances whose files ScriptHut does not keep`;
  return null;
}

/** The outputs view of a task from its stored listing. */
export function taskOutputsView(
  store: TaskOutputStore,
  run: RunRecord,
  task: TaskRecord,
  backend: Backend | null,
): TaskOutputsView {
  const reason = outputsUnavailableReason(backend, run.backendName);
  const stored = reason ? null : findListing(store, task);
  const base = {
    runId: run.id,
    taskId: task.spec.id,
    limits: { maxFiles: OUTPUT_LIMITS.maxFiles, maxFileBytes: OUTPUT_LIMITS.maxFileBytes },
  };
  if (!stored)
    return {
      ...base,
      status: reason ? 'unavailable' : 'waiting',
      reason:
        reason ??
        (task.jobId ? 'the outputs are listed shortly after the task ends' : 'the task has not run yet'),
      listedAt: null,
      missing: false,
      files: [],
      truncated: false,
      skipped: 0,
      taskSummary: null,
      error: null,
    };
  return {
    ...base,
    status: 'listed',
    reason: null,
    listedAt: stored.listedAt,
    missing: stored.missing,
    files: stored.files.map((f) => ({ ...f, kind: outputKind(f.path) })),
    truncated: stored.truncated,
    skipped: stored.skipped,
    taskSummary: stored.taskSummary,
    error: stored.error,
  };
}

/** A task's listing; tasks kept by a `rerun failed` use the listing of the run they came from. */
function findListing(store: TaskOutputStore, task: TaskRecord): StoredOutputListing | null {
  const own = store.getTaskOutputs(task.runId, task.spec.id);
  if (own) return own;
  const from = task.meta.keptFrom;
  return typeof from === 'string' ? store.getTaskOutputs(from, task.spec.id) : null;
}

/**
 * Read a recorded output file of a task from its backend. `path` must be one of the recorded
 * files (anything else is `not_found`, whatever it names) and not too large.
 */
export async function readTaskOutputFile(
  store: TaskOutputStore,
  run: RunRecord,
  task: TaskRecord,
  backend: Backend | null,
  path: string,
): Promise<OutputFileContent> {
  const reason = outputsUnavailableReason(backend, run.backendName);
  if (reason || !backend?.readOutputFile) throw new ScriptHutError('not_found', reason ?? 'no outputs');
  if (!isSafeOutputPath(path))
    throw new ScriptHutError('validation_failed', `invalid output path ${JSON.stringify(path)}`);
  const listing = findListing(store, task);
  const file = listing?.files.find((f) => f.path === path);
  if (!listing || !file)
    throw new ScriptHutError(
      'not_found',
      `task ${task.spec.id} has no recorded output ${JSON.stringify(path)}`,
    );
  if (file.tooLarge)
    throw new ScriptHutError(
      'validation_failed',
      `output ${path} is larger than ${OUTPUT_LIMITS.maxFileBytes} bytes and cannot be read through ScriptHut`,
    );
  // The listing may come from the run a `rerun failed` kept the task from.
  const ownerRunId = listing.runId;
  const dir = taskOutputPaths(run.logDir, ownerRunId, task.spec.id, task.seq).dir;
  const data = await backend.readOutputFile(dir, path, OUTPUT_LIMITS.maxFileBytes);
  return { path, kind: outputKind(path), contentType: outputContentType(path), data };
}

/** The run summary view from the stored fragments. */
export function runSummaryView(
  store: TaskOutputStore,
  run: RunRecord,
  backend: Backend | null,
): RunSummaryView {
  const reason = outputsUnavailableReason(backend, run.backendName);
  if (reason) return { runId: run.id, available: false, reason, fragments: [] };
  return {
    runId: run.id,
    available: true,
    reason: null,
    fragments: store
      .runSummaryFragments(run.id)
      .map((f) => ({ taskId: f.taskId, text: f.summary.text, truncated: f.summary.truncated })),
  };
}
