/**
 * Interactive debug of a task: the task is submitted again as a separate job with the same
 * resources, environment and working directory, but its command is replaced by one that opens a
 * tmux session (its own tmux server, `tmux -L <session>`, so it carries the job's environment) and
 * waits while that session lives. The user attaches from a browser terminal (`srun --overlap --pty
 * tmux attach` on Slurm, `ssh -tt <node> tmux attach` on PBS), runs the original command by hand
 * (`bash "$SCRIPTHUT_DEBUG_DIR/command.sh"`), and "Release" creates the job's release file next to
 * its output (`<log dir>/<session>.debug.release`, one command on the login node, the same on Slurm
 * and PBS: no `srun` into the allocation or `ssh` to the node needed); the job sees it within 2 s,
 * ends its tmux server and exits 0. A job ended otherwise (scancel/qdel, time limit) ends its tmux
 * server too, so nothing outlives the job on the node.
 *
 * Debug sessions are kept in `<data_dir>/debug-sessions.json` (newest last, at most
 * {@link MAX_DEBUG_SESSIONS}); they are not tasks and never change the task's own record.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Backend,
  buildSubmitRequest,
  type RunRecord,
  ScriptHutError,
  shellQuote,
  shellQuotePath,
  type TaskRecord,
  type TrackedJob,
} from '@scripthut/core';
import { checkTmuxSession } from './terminals.js';

/** Debug sessions remembered per data directory. */
export const MAX_DEBUG_SESSIONS = 200;

/** A debug job of a task. */
export interface DebugSession {
  /** The tmux session and socket name, also the job's tag (`db…`). */
  session: string;
  runId: string;
  taskId: string;
  backend: string;
  jobId: string;
  /** Where the debug job's stdout goes. */
  stdoutPath: string;
  submittedAt: string;
  /** Set once released from ScriptHut. */
  releasedAt: string | null;
}

/** The release file of a debug job whose output goes to `stdoutPath` (`….debug.out` → `….debug.release`). */
export function debugReleaseFile(stdoutPath: string): string {
  return `${stdoutPath.replace(/\.out$/, '')}.release`;
}

/** The bash that replaces the task's command in a debug job. */
export function debugCommand(o: {
  originalCommand: string;
  session: string;
  taskId: string;
  runId: string;
  /** Created by Release (see {@link debugReleaseFile}); `~/` is the user's home. */
  releaseFile: string;
}): string {
  const session = checkTmuxSession(o.session);
  const release = shellQuotePath(o.releaseFile);
  const rc = [
    '[ -f ~/.bashrc ] && . ~/.bashrc',
    'cd -- "$SCRIPTHUT_DEBUG_CWD" 2>/dev/null',
    `printf '\\n== ScriptHut debug session: task %s of run %s ==\\n' ${shellQuote(o.taskId)} ${shellQuote(o.runId)}`,
    "printf 'Working directory and environment are the task'\\''s. The original command:\\n\\n'",
    'cat -- "$SCRIPTHUT_DEBUG_DIR/command.sh"',
    'printf \'\\nRun it with:  bash "$SCRIPTHUT_DEBUG_DIR/command.sh"\\n\'',
    "printf 'Release the job from the task page when you are done (or exit this shell).\\n\\n'",
  ].join('\n');
  return [
    '# ScriptHut debug session: the task command is not run; a tmux session waits for you.',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell text
    '__sh_dbg=$(mktemp -d "${TMPDIR:-/tmp}/scripthut-debug.XXXXXX") || exit 1',
    `printf '%s\\n' ${shellQuote(o.originalCommand)} > "$__sh_dbg/command.sh"`,
    `printf '%s\\n' ${shellQuote(rc)} > "$__sh_dbg/bashrc"`,
    'export SCRIPTHUT_DEBUG_DIR="$__sh_dbg" SCRIPTHUT_DEBUG_CWD="$PWD"',
    'if ! command -v tmux >/dev/null 2>&1; then echo "ScriptHut debug: tmux is not installed on $HOSTNAME: no debug session; install tmux on the compute nodes" >&2; rm -rf -- "$__sh_dbg"; exit 1; fi',
    // Whatever ends the job (release, scancel/qdel, the time limit), its tmux server goes with it.
    `trap 'tmux -L ${session} kill-server 2>/dev/null; rm -rf -- "$__sh_dbg"' EXIT`,
    "trap 'exit 143' TERM",
    "trap 'exit 129' HUP",
    `command -p mkdir -p -- "$(dirname -- ${release})" 2>/dev/null; rm -f -- ${release}`,
    `tmux -L ${session} new-session -d -s ${session} -x 200 -y 50 -c "$PWD" 'exec bash --rcfile "$SCRIPTHUT_DEBUG_DIR/bashrc" -i' || exit 1`,
    `echo "ScriptHut debug session ${session} is ready on $HOSTNAME: attach from the task page, or run: tmux -L ${session} attach -t ${session} (on $HOSTNAME)"`,
    `while tmux -L ${session} has-session -t ${session} 2>/dev/null && [ ! -e ${release} ]; do sleep 2; done`,
    `[ -e ${release} ] && echo "ScriptHut debug session ${session} released"`,
    `rm -f -- ${release}`,
    `echo "ScriptHut debug session ${session} ended"`,
    'exit 0',
  ].join('\n');
}

/** A debug session with what the scheduler says about its job. */
export interface DebugSessionView extends DebugSession {
  /** Scheduler state (`pending`, `running`, `completed`, …), `unknown` when it could not be asked. */
  state: string;
  node: string | null;
  exitCode: number | null;
}

/**
 * The command (on the login node) that releases a running debug job, on Slurm and PBS alike: it
 * creates the job's release file (see {@link debugReleaseFile}); the job ends its tmux session.
 */
export function releaseCommand(s: Pick<DebugSession, 'session' | 'stdoutPath'>): string {
  checkTmuxSession(s.session);
  return `: > ${shellQuotePath(debugReleaseFile(s.stdoutPath))}`;
}

/** A debug job as the backend's status and cancel calls take it. */
export function debugTrackedJob(s: DebugSession): TrackedJob {
  return {
    jobId: s.jobId,
    runId: s.runId,
    taskId: s.taskId,
    tag: s.session,
    stdoutPath: s.stdoutPath,
    stderrPath: s.stdoutPath,
    submittedAt: s.submittedAt,
    lastState: null,
    meta: {},
  };
}

/** Reads and writes `<data_dir>/debug-sessions.json`. */
export class DebugSessionStore {
  private readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'debug-sessions.json');
  }

  list(): DebugSession[] {
    if (!existsSync(this.path)) return [];
    try {
      const parsed = JSON.parse(readFileSync(this.path, 'utf8')) as unknown;
      return Array.isArray(parsed) ? (parsed as DebugSession[]) : [];
    } catch {
      return [];
    }
  }

  forTask(runId: string, taskId: string): DebugSession[] {
    return this.list().filter((s) => s.runId === runId && s.taskId === taskId);
  }

  get(session: string): DebugSession | null {
    return this.list().find((s) => s.session === session) ?? null;
  }

  save(entry: DebugSession): void {
    const all = this.list().filter((s) => s.session !== entry.session);
    all.push(entry);
    const kept = all.slice(-MAX_DEBUG_SESSIONS);
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(kept, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}

/**
 * Submits the debug job of `task` on `backend` (the adapted backend: env rules apply as for the task).
 * Secrets of the run's environments are used as the task used them (`run` is the stored record).
 */
export async function submitDebugJob(
  backend: Backend,
  run: RunRecord,
  task: TaskRecord,
): Promise<DebugSession> {
  if (backend.type !== 'slurm' && backend.type !== 'pbs')
    throw new ScriptHutError(
      'conflict',
      `backend "${run.backendName}" (${backend.type}) has no debug sessions`,
    );
  // `db` + run id + base36(seq) + 1 random char: ≤ 15 [a-z0-9] like a submit tag, never parsed as one.
  const session = `db${run.id}${task.seq.toString(36)}${randomBytes(1)[0]!.toString(36).slice(-1)}`;
  const stdoutPath = `${run.logDir.replace(/\/+$/, '')}/${session}.debug.out`;
  const spec = {
    ...task.spec,
    command: debugCommand({
      originalCommand: task.spec.command,
      session,
      taskId: task.spec.id,
      runId: run.id,
      releaseFile: debugReleaseFile(stdoutPath),
    }),
    outputFile: null,
    errorFile: null,
  };
  const request = {
    ...buildSubmitRequest(run, { spec, seq: task.seq, stdoutPath, stderrPath: stdoutPath }, session),
  };
  const [outcome] = await backend.submit([request]);
  if (!outcome) throw new ScriptHutError('internal', 'the backend returned no submission outcome');
  if (!outcome.ok)
    throw new ScriptHutError(
      outcome.transient ? 'backend_transient' : 'backend_permanent',
      `cannot submit the debug job of task ${task.spec.id}: ${outcome.error}`,
    );
  return {
    session,
    runId: run.id,
    taskId: task.spec.id,
    backend: run.backendName,
    jobId: outcome.jobId,
    stdoutPath,
    submittedAt: new Date().toISOString(),
    releasedAt: null,
  };
}
