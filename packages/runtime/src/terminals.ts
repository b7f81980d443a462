/**
 * Terminals on SSH backends: what each kind of session runs on the login node's PTY channel.
 *
 * - `login`: the user's login shell on the login node;
 * - `task`: a shell inside a running task's allocation. Slurm: `srun --jobid=<id> --overlap --pty`
 *   (works where compute nodes refuse plain ssh, and lands in the job's cgroup); PBS: `ssh -tt <node>`
 *   from the login node, to the first node PBS reports;
 * - `debug`: the tmux session of a debug job (see `debug-jobs.ts`), attached the same way.
 *
 * Every value that reaches the command line is validated (job ids, node names) and then quoted.
 */
import { type Backend, ScriptHutError, shellJoin, type TaskRecord } from '@scripthut/core';
import type { ShellChannel, ShellOptions } from '@scripthut/ssh';

/** What a terminal session runs. */
export type TerminalTarget =
  | { kind: 'login' }
  | { kind: 'task'; runId: string; taskId: string }
  | { kind: 'debug'; runId: string; taskId: string };

/** A terminal to open on a backend. */
export interface TerminalRequest {
  target: TerminalTarget;
  cols: number;
  rows: number;
}

/** An open terminal: the PTY channel and what it is (for lists and the command log). */
export interface OpenedTerminal {
  channel: ShellChannel;
  /** e.g. `login shell`, `task t3 of run abc (job 42 on node01)`. */
  description: string;
}

/** What can open PTY channels: `SshConnection` (and `OpenSshTransport`, which refuses). */
export interface TerminalCapable {
  openShell(options: ShellOptions): Promise<ShellChannel>;
}

/** True when a backend's command runner can open terminals at all. */
export function terminalRunner(backend: Backend): TerminalCapable | null {
  if (backend.type !== 'slurm' && backend.type !== 'pbs') return null;
  const runner = backend.commandRunner() as Partial<TerminalCapable>;
  return typeof runner.openShell === 'function' ? (runner as TerminalCapable) : null;
}

const NODE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;
const JOB_ID_RE = /^[0-9]+(?:[_.][0-9A-Za-z]+)*(?:\[[0-9]*\])?(?:\.[A-Za-z0-9._-]+)?$/;
const TMUX_SESSION_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** A compute node name as the scheduler printed it; throws when it is not a plain host name. */
export function checkNodeName(node: string, field = 'node'): string {
  if (!NODE_RE.test(node))
    throw new ScriptHutError('validation_failed', `${field}: not a host name: ${JSON.stringify(node)}`);
  return node;
}

/** A scheduler job id (digits, array and server suffixes); throws otherwise. */
export function checkJobId(jobId: string, field = 'jobId'): string {
  if (!JOB_ID_RE.test(jobId))
    throw new ScriptHutError('validation_failed', `${field}: not a job id: ${JSON.stringify(jobId)}`);
  return jobId;
}

/** A tmux session name made by ScriptHut (letters, digits, `_-`); throws otherwise. */
export function checkTmuxSession(name: string): string {
  if (!TMUX_SESSION_RE.test(name))
    throw new ScriptHutError('validation_failed', `tmux session: bad name ${JSON.stringify(name)}`);
  return name;
}

/**
 * The first host of a scheduler's node list: Slurm `node[01-03],gpu2` → `node01` is not needed (Slurm
 * attaches by job id); PBS `node01/0*2+node02/1` → `node01`.
 */
export function firstPbsNode(execHost: string): string {
  const first = execHost.split('+')[0]?.split('/')[0]?.trim() ?? '';
  return checkNodeName(first);
}

/**
 * The command a terminal into `jobId` runs on the login node: `program` (default: a login bash)
 * inside the job's allocation.
 */
export function attachCommand(
  backendType: 'slurm' | 'pbs',
  job: { jobId: string; node: string | null },
  program: readonly string[] = ['bash', '-l'],
): string {
  if (backendType === 'slurm') {
    return shellJoin(['srun', `--jobid=${checkJobId(job.jobId)}`, '--overlap', '--pty', ...program]);
  }
  if (!job.node) throw new ScriptHutError('conflict', `job ${job.jobId} has no node yet`);
  return shellJoin(['ssh', '-tt', '--', firstPbsNode(job.node), ...program]);
}

/** The command a debug terminal runs: attach to the debug job's tmux session. */
export function debugAttachCommand(
  backendType: 'slurm' | 'pbs',
  job: { jobId: string; node: string | null },
  session: string,
): string {
  const s = checkTmuxSession(session);
  return attachCommand(backendType, job, ['tmux', '-L', s, 'attach-session', '-t', s]);
}

/** Why a task cannot be attached to, or null when it can. */
export function taskAttachProblem(task: TaskRecord): string | null {
  if (task.state !== 'running') return `task ${task.spec.id} is ${task.state}, not running`;
  if (!task.jobId) return `task ${task.spec.id} has no scheduler job id`;
  return null;
}
