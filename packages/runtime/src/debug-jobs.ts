/**
 * Interactive debug of a task: the task is submitted again as a separate job with the same
 * resources, environment and working directory, but its command is replaced by one that opens a
 * tmux session (its own tmux server, `tmux -L <session>`, so it carries the job's environment) and
 * waits while that session lives. The user attaches from a browser terminal (`srun --overlap --pty
 * tmux attach` on Slurm, `ssh -tt <node> tmux attach` on PBS), runs the original command by hand
 * (`bash "$SCRIPTHUT_DEBUG_DIR/command.sh"`), and "Release" ends the tmux server, so the job ends
 * with exit code 0.
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
  shellJoin,
  shellQuote,
  type TaskRecord,
  type TrackedJob,
} from '@scripthut/core';
import { checkJobId, checkTmuxSession, firstPbsNode } from './terminals.js';

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

/** The bash that replaces the task's command in a debug job. */
export function debugCommand(o: {
  originalCommand: string;
  session: string;
  taskId: string;
  runId: string;
}): string {
  const session = checkTmuxSession(o.session);
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
    'if ! command -v tmux >/dev/null 2>&1; then echo "ScriptHut debug: tmux is not installed on $HOSTNAME" >&2; rm -rf -- "$__sh_dbg"; exit 1; fi',
    `tmux -L ${session} new-session -d -s ${session} -x 200 -y 50 -c "$PWD" 'exec bash --rcfile "$SCRIPTHUT_DEBUG_DIR/bashrc" -i' || exit 1`,
    `echo "ScriptHut debug session ${session} is ready on $HOSTNAME: attach from the task page, or run: tmux -L ${session} attach -t ${session} (on $HOSTNAME)"`,
    `while tmux -L ${session} has-session -t ${session} 2>/dev/null; do sleep 2; done`,
    'rm -rf -- "$__sh_dbg"',
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

/** The command (on the login node) that releases a running debug job: stop its tmux server. */
export function releaseCommand(
  backendType: 'slurm' | 'pbs',
  s: Pick<DebugSession, 'jobId' | 'session'> & { node: string | null },
): string {
  const name = checkTmuxSession(s.session);
  if (backendType === 'slurm')
    return shellJoin([
      'srun',
      `--jobid=${checkJobId(s.jobId)}`,
      '--overlap',
      'tmux',
      '-L',
      name,
      'kill-server',
    ]);
  if (!s.node) throw new ScriptHutError('conflict', `debug job ${s.jobId} has no node`);
  return shellJoin(['ssh', '--', firstPbsNode(s.node), 'tmux', '-L', name, 'kill-server']);
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
  const spec = {
    ...task.spec,
    command: debugCommand({
      originalCommand: task.spec.command,
      session,
      taskId: task.spec.id,
      runId: run.id,
    }),
    outputFile: null,
    errorFile: null,
  };
  const stdoutPath = `${run.logDir.replace(/\/+$/, '')}/${session}.debug.out`;
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
