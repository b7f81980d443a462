/**
 * Where a run's files go on a backend: default log directories and file names, and how a task's
 * working directory resolves against the run's base directory. Pure string functions shared by the
 * engine and by dry runs ({@link previewRun}).
 */
import { posix } from 'node:path';

/** Sanitise a workflow name into a relative directory name (slashes → `__`). */
export function sanitizeWorkflowName(name: string): string {
  const s = name
    .replace(/\//g, '__')
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .replace(/^\.+/, '_');
  return s || '_';
}

/** Default log directory of a workflow on a backend. */
export function defaultLogDir(workflowName: string): string {
  return `~/.cache/scripthut/logs/${sanitizeWorkflowName(workflowName)}`;
}

/** Default log file paths of a task. Task ids with unsafe characters get a sanitised name + seq. */
export function defaultLogPaths(
  logDir: string,
  runId: string,
  taskId: string,
  seq: number,
): { out: string; err: string } {
  const safe = taskId.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  const stem = `scripthut_${runId}_${safe === taskId ? safe : `${safe}_${seq}`}`;
  const dir = logDir.replace(/\/+$/, '') || '/';
  // join() builds flat strings: a template literal builds a rope that is flattened in place when
  // first written to the store, keeping both (~30 bytes more per path, kept for the task's life).
  return { out: [dir, '/', stem, '.out'].join(''), err: [dir, '/', stem, '.err'].join('') };
}

/** Resolve a task's working dir against the run's base dir: `~` → base, relative → base/rel. */
export function resolveWorkingDir(workingDir: string, baseDir: string | null): string {
  if (!baseDir) return workingDir;
  if (workingDir === '~' || workingDir === '~/') return baseDir;
  if (workingDir.startsWith('/') || workingDir.startsWith('~')) return workingDir;
  return posix.join(baseDir, workingDir);
}

/**
 * Working dir of a task that a `generates_source` task added: relative dirs resolve against the
 * generator's (resolved) working dir; `~…` and absolute dirs are kept.
 */
export function generatedWorkingDir(workingDir: string, generatorCwd: string): string {
  if (workingDir === '~' || workingDir.startsWith('~') || workingDir.startsWith('/')) return workingDir;
  return posix.join(generatorCwd, workingDir);
}
