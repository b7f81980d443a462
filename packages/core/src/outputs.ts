/**
 * Task outputs: where a task may leave files (`SCRIPTHUT_OUTPUT_DIR`) and markdown summaries
 * (`SCRIPTHUT_TASK_SUMMARY`, `SCRIPTHUT_RUN_SUMMARY`), the bounds of the listing the engine records
 * after the task ended, and the path rules every reader of a recorded file applies.
 *
 * Layout under a run's log directory (task stems as in {@link defaultLogPaths}):
 * ```
 * <logDir>/outputs/<runId>/tasks/<stem>/                 SCRIPTHUT_OUTPUT_DIR
 * <logDir>/outputs/<runId>/tasks/<stem>/task-summary.md  SCRIPTHUT_TASK_SUMMARY
 * <logDir>/outputs/<runId>/run-summary/<stem>.md         SCRIPTHUT_RUN_SUMMARY
 * ```
 */

/** Limits of one task's recorded outputs. */
export const OUTPUT_LIMITS = {
  /** Files recorded per task (the listing stops there and says it was truncated). */
  maxFiles: 200,
  /** Largest file that can be shown or downloaded (bigger ones are listed as too large). */
  maxFileBytes: 5 * 1024 * 1024,
  /** Directory depth searched below the output directory. */
  maxDepth: 4,
  /** Longest relative path recorded (longer names are skipped). */
  maxPathLength: 512,
  /** Summary text (task or run fragment) kept in the store per task. */
  maxSummaryBytes: 64 * 1024,
} as const;

/** Name of the task summary inside the output directory. */
export const TASK_SUMMARY_FILE = 'task-summary.md';

/** The output paths of one task (may start with `~`). */
export interface TaskOutputPaths {
  /** `SCRIPTHUT_OUTPUT_DIR`. */
  dir: string;
  /** `SCRIPTHUT_TASK_SUMMARY` (inside `dir`). */
  taskSummary: string;
  /** `SCRIPTHUT_RUN_SUMMARY` (this task's fragment of the run summary). */
  runSummary: string;
}

/** File-name stem of a task (its id, or a sanitised id + seq when the id has unsafe characters). */
export function taskFileStem(taskId: string, seq: number): string {
  const safe = taskId.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  return safe === taskId ? safe : `${safe}_${seq}`;
}

/** The output directory and summary paths of a task of a run. */
export function taskOutputPaths(logDir: string, runId: string, taskId: string, seq: number): TaskOutputPaths {
  const base = `${logDir.replace(/\/+$/, '') || ''}/outputs/${runId}`;
  const stem = taskFileStem(taskId, seq);
  const dir = `${base}/tasks/${stem}`;
  return { dir, taskSummary: `${dir}/${TASK_SUMMARY_FILE}`, runSummary: `${base}/run-summary/${stem}.md` };
}

/** One recorded output file. */
export interface OutputFile {
  /** Path relative to the output directory (`/`-separated, checked by {@link isSafeOutputPath}). */
  path: string;
  size: number;
  /** ISO 8601 modification time. */
  mtime: string;
  /** Larger than {@link OUTPUT_LIMITS.maxFileBytes}: listed, not readable. */
  tooLarge?: boolean;
}

/** A summary file's text as captured by the listing. */
export interface CapturedSummary {
  text: string;
  /** The file was longer than {@link OUTPUT_LIMITS.maxSummaryBytes}; `text` is its beginning. */
  truncated: boolean;
}

/** What the listing found for one task. */
export interface OutputListing {
  /** The output directory does not exist (the job never started, or it was removed). */
  missing: boolean;
  files: OutputFile[];
  /** More files existed than {@link OUTPUT_LIMITS.maxFiles}. */
  truncated: boolean;
  /** Entries skipped because their names are unsafe or too long. */
  skipped: number;
  taskSummary: CapturedSummary | null;
  runSummary: CapturedSummary | null;
}

/**
 * The listing of an output directory that does not exist (yet): what a backend reports before it
 * finds the directory, and what it starts from while listing it.
 */
export function missingOutputListing(runSummary: CapturedSummary | null = null): OutputListing {
  return { missing: true, files: [], truncated: false, skipped: 0, taskSummary: null, runSummary };
}

/** A listing as stored for a task. */
export interface StoredOutputListing extends OutputListing {
  runId: string;
  taskId: string;
  /** ISO time of the listing. */
  listedAt: string;
  /** Set when the listing failed for good (the backend could not be asked). */
  error: string | null;
}

/** One task to list: its key (returned in the answer) and its paths. */
export interface OutputListingRequest {
  key: string;
  paths: TaskOutputPaths;
}

/**
 * A relative output path that is safe to join to the output directory: not empty, not absolute, no
 * `.`/`..`/empty segment, no backslash, no control character (newline, NUL…), not too long.
 */
export function isSafeOutputPath(path: string): boolean {
  if (!path || path.length > OUTPUT_LIMITS.maxPathLength) return false;
  if (path.startsWith('/') || path.includes('\\')) return false;
  if (/[\u0000-\u001f\u007f]/.test(path)) return false;
  return path.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

/** How the UI shows a file. */
export type OutputKind = 'markdown' | 'image' | 'text' | 'other';

const IMAGE_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
};
const TEXT_EXT = new Set(['txt', 'log', 'csv', 'tsv', 'json', 'yaml', 'yml', 'out', 'err']);

function extOf(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
}

/**
 * The kind of an output file by extension. SVG is `other` (downloaded, never shown inline: it can
 * carry scripts).
 */
export function outputKind(path: string): OutputKind {
  const ext = extOf(path);
  if (ext === 'md' || ext === 'markdown') return 'markdown';
  if (ext in IMAGE_TYPES) return 'image';
  if (TEXT_EXT.has(ext)) return 'text';
  return 'other';
}

/** Content type a file is served with: raster images as themselves, everything else as bytes. */
export function outputContentType(path: string): string {
  return IMAGE_TYPES[extOf(path)] ?? 'application/octet-stream';
}

/**
 * Apply the bounds to raw entries (as a backend found them): unsafe names skipped, files beyond
 * {@link OUTPUT_LIMITS.maxFiles} dropped (`truncated`), big files marked `tooLarge`, sorted by path.
 * `moreThanSeen` tells that the backend itself stopped listing early.
 */
export function boundOutputFiles(
  entries: readonly { path: string; size: number; mtimeMs: number }[],
  moreThanSeen = false,
): { files: OutputFile[]; truncated: boolean; skipped: number } {
  const files: OutputFile[] = [];
  let skipped = 0;
  let truncated = moreThanSeen;
  for (const e of entries) {
    if (!isSafeOutputPath(e.path) || !Number.isFinite(e.size) || e.size < 0) {
      skipped++;
      continue;
    }
    if (files.length >= OUTPUT_LIMITS.maxFiles) {
      truncated = true;
      continue;
    }
    const mtime = Number.isFinite(e.mtimeMs) ? new Date(e.mtimeMs).toISOString() : new Date(0).toISOString();
    files.push({
      path: e.path,
      size: e.size,
      mtime,
      ...(e.size > OUTPUT_LIMITS.maxFileBytes ? { tooLarge: true } : {}),
    });
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files, truncated, skipped };
}

/** Summary text from bytes: cut at {@link OUTPUT_LIMITS.maxSummaryBytes} (on a character boundary). */
export function captureSummary(bytes: Buffer, fileSize: number): CapturedSummary {
  const max = OUTPUT_LIMITS.maxSummaryBytes;
  const cut = bytes.length > max ? bytes.subarray(0, max) : bytes;
  const text = cut.toString('utf8').replace(/\uFFFD+$/, '');
  return { text, truncated: fileSize > max || bytes.length > max };
}

/**
 * Where the engine records task outputs. Implemented by the SQLite store and {@link MemoryRunStore}.
 */
export interface TaskOutputStore {
  /** Record (replace) the listing of a task. */
  saveTaskOutputs(listing: StoredOutputListing): void;
  /** The recorded listing of a task, or null when none was made (yet). */
  getTaskOutputs(runId: string, taskId: string): StoredOutputListing | null;
  /** Listings of a run's tasks that captured a run-summary fragment, in task order. */
  runSummaryFragments(runId: string): { taskId: string; seq: number; summary: CapturedSummary }[];
  /**
   * Tasks of runs on `backendNames` that ended with a job and have no listing yet (restored into the
   * queue when the engine starts), at most `limit`.
   */
  tasksAwaitingOutputs(backendNames: readonly string[], limit: number): { runId: string; taskId: string }[];
}

/** `o` with each path passed through `resolve` (e.g. a backend's `~` resolution). */
export function resolveOutputPaths(
  o: TaskOutputPaths | null | undefined,
  resolve: (path: string) => string,
): TaskOutputPaths | null {
  if (!o) return null;
  return { dir: resolve(o.dir), taskSummary: resolve(o.taskSummary), runSummary: resolve(o.runSummary) };
}
