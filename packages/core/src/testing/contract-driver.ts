/**
 * Building blocks of contract drivers (see {@link backendContract}): the contract job's request and
 * command, releasing it, and — for backends that run commands over a connection — a wrapped
 * connection ({@link wireExec}) and a complete driver ({@link remoteContract}). No vitest here.
 */
import type { Backend, CommandRunner, ExecResult, SubmitRequest, TrackedJob } from '../backend.js';
import type { TaskSpec } from '../domain.js';
import { BackendError } from '../errors.js';
import { shellQuote, shellQuotePath } from '../shell.js';
import { taskSpec } from './index.js';

/** A job the suite submits: it prints one line to each stream, then waits to be released. */
export interface ContractJob {
  /** 8 hex characters, the same for every job of one suite run. */
  runId: string;
  taskId: string;
  /** A fresh submit tag (`makeSubmitTag`). */
  tag: string;
  /** Line the job prints to stdout before waiting. */
  stdout: string;
  /** Line the job prints to stderr before waiting. */
  stderr: string;
}

/** How a test environment drives its backend for the suite. Optional members enable more tests. */
export interface BackendContractDriver<B extends Backend = Backend> {
  /**
   * The request of a contract job: a task whose command prints `job.stdout` and `job.stderr` (one line
   * each, e.g. with {@link heldJobCommand}), then waits until {@link finish} releases it and exits with
   * the given code. Fakes script the same behaviour.
   */
  request(job: ContractJob): SubmitRequest;
  /** End a submitted job with this exit code (real backends: write its release file). */
  finish(job: TrackedJob, exitCode: number): Promise<void>;
  /** Bound on waiting for a job to reach a state (ms). Default 60 000. */
  timeoutMs?: number;
  /** Interval between status calls while waiting (ms). Default 250. */
  pollMs?: number;
  /** Make the scheduler forget a live job (fakes: drop it; local: kill it without exit marker). */
  vanish?(job: TrackedJob): Promise<void>;
  /** A request this backend rejects for good (e.g. an unknown partition or an uncreatable log dir). */
  rejectedRequest?(job: ContractJob): SubmitRequest;
  /** A backend instance whose scheduler cannot be reached: every call fails as an outage would. */
  unreachable?(): Backend | Promise<Backend>;
  /** The next `submit` of `backend` creates its jobs, then its answer is lost on the way back. */
  loseNextSubmitAnswer?(backend: B): void;
  /** Scheduler round trips `backend` made so far (SSH commands, API calls). */
  roundTrips?(backend: B): number;
  /** Called once after the suite (remove files, cancel leftovers). */
  cleanup?(): Promise<void>;
}

/**
 * The command of a contract job: print one line to stdout and one to stderr, wait until
 * `releasePath` exists and is not empty, exit with the code written in it.
 */
export function heldJobCommand(releasePath: string, job: Pick<ContractJob, 'stdout' | 'stderr'>): string {
  const file = shellQuotePath(releasePath);
  return [
    `printf '%s\\n' ${shellQuote(job.stdout)}`,
    `printf '%s\\n' ${shellQuote(job.stderr)} >&2`,
    `while [ ! -s ${file} ]; do sleep 0.2; done`,
    `exit "$(cat ${file})"`,
  ].join('\n');
}

/** Shell text that releases a job waiting in {@link heldJobCommand} with `exitCode` (atomic write). */
export function releaseJobCommand(releasePath: string, exitCode: number): string {
  const file = shellQuotePath(releasePath);
  const tmp = shellQuotePath(`${releasePath}.tmp`);
  return `printf '%s\\n' ${shellQuote(String(exitCode))} > ${tmp} && mv -f ${tmp} ${file}`;
}

/**
 * A submit request for a contract job: a small task (50M, 10 minutes) running `command`, logs in
 * `logDir` named after the tag. `spec` overrides task fields (e.g. a partition).
 */
export function contractRequest(
  job: ContractJob,
  options: { command: string; logDir: string; workingDir?: string; spec?: Partial<TaskSpec> },
): SubmitRequest {
  const logDir = options.logDir.replace(/\/+$/, '');
  return {
    runId: job.runId,
    taskId: job.taskId,
    tag: job.tag,
    workflowName: 'contract',
    task: taskSpec(job.taskId, {
      name: `contract ${job.taskId}`,
      command: options.command,
      memory: '50M',
      memoryMiB: 50,
      timeLimit: '0:10:00',
      timeLimitSeconds: 600,
      ...options.spec,
    }),
    workingDir: options.workingDir ?? '~',
    env: { SCRIPTHUT_TASK_ID: job.taskId },
    extraInit: '',
    stdoutPath: `${logDir}/${job.tag}.out`,
    stderrPath: `${logDir}/${job.tag}.err`,
    logDir,
    git: null,
  };
}

/** Control over the commands a backend sends through a wrapped runner ({@link wireExec}). */
export interface ExecWire {
  /** Commands sent so far (scheduler round trips of a command-based backend). */
  readonly calls: number;
  /**
   * The next command for which `match(command, options)` holds runs for real, then its answer is
   * lost: the call rejects as if the connection dropped before the output arrived.
   */
  loseNextAnswer(match: (command: string, options: { logAs?: string } | undefined) => boolean): void;
  /** While set, every command rejects at once with this error, as a dead connection would. */
  down: Error | null;
}

/**
 * Wrap the command runner of a command-based backend (e.g. an `SshConnection`) for a contract
 * driver: count round trips, lose the answer of one command, or play an outage. Everything else is
 * the real runner.
 */
export function wireExec<T extends Pick<CommandRunner, 'exec'>>(target: T): { runner: T; wire: ExecWire } {
  let calls = 0;
  let lose: ((command: string, options: { logAs?: string } | undefined) => boolean) | null = null;
  const wire: ExecWire = {
    get calls() {
      return calls;
    },
    loseNextAnswer(match) {
      lose = match;
    },
    down: null,
  };
  const exec = async (command: string, options?: Parameters<T['exec']>[1]): Promise<ExecResult> => {
    calls++;
    if (wire.down) throw wire.down;
    const result = await target.exec(command, options);
    if (lose?.(command, options as { logAs?: string } | undefined)) {
      lose = null;
      throw new Error('connection lost before the answer arrived (contract test)');
    }
    return result;
  };
  const runner = new Proxy(target, {
    get(t, prop) {
      if (prop === 'exec') return exec;
      const value = Reflect.get(t, prop, t);
      return typeof value === 'function' ? value.bind(t) : value;
    },
  });
  return { runner, wire };
}

/** A command-based backend's test environment, for {@link remoteContract}. */
export interface RemoteContractSetup<C extends Pick<CommandRunner, 'exec'>, B extends Backend> {
  /** A new connection to where the scheduler's commands run (e.g. a real SSH connection). */
  connect(): C;
  /** The backend over a (wrapped) connection. */
  build(connection: C): B;
  /** Directory where jobs run (`~` allowed): contract logs go to `<dir>/logs`, release files to `<dir>/release`. */
  dir: string;
  /** Run a shell command where the jobs run (an observer connection, not the backend's). */
  shell(command: string): Promise<void>;
  /** How the backend logs its submission program (`logAs` prefix, e.g. `sbatch`): the answer to lose. */
  submitLogAs: string;
  /** Task fields the scheduler refuses for good (e.g. an unknown partition or queue). */
  rejectedSpec: Partial<TaskSpec>;
}

/**
 * `create` and driver of the contract for a command-based backend (Slurm, PBS…). Each `create()`
 * opens its own connection (a second instance is a restarted control plane), wrapped with
 * {@link wireExec} to count round trips, lose one submission's answer after the command ran, and
 * play an outage (a backend whose connection is down). Held jobs are released by writing their
 * release file with `setup.shell`. Timeouts suit a real scheduler (2 minutes, polls every 500 ms).
 */
export function remoteContract<C extends Pick<CommandRunner, 'exec'>, B extends Backend>(
  setup: RemoteContractSetup<C, B>,
): { create: () => B; driver: BackendContractDriver<B> } {
  const wires = new WeakMap<B, ExecWire>();
  const create = (down: Error | null = null): B => {
    const { runner, wire } = wireExec(setup.connect());
    wire.down = down;
    const backend = setup.build(runner);
    wires.set(backend, wire);
    return backend;
  };
  const wireOf = (backend: B): ExecWire => {
    const wire = wires.get(backend);
    if (!wire) throw new Error('not a backend made by remoteContract().create');
    return wire;
  };
  const dir = setup.dir.replace(/\/+$/, '');
  const release = (tag: string) => `${dir}/release/${tag}`;
  const driver: BackendContractDriver<B> = {
    request: (job) =>
      contractRequest(job, { command: heldJobCommand(release(job.tag), job), logDir: `${dir}/logs` }),
    rejectedRequest: (job) =>
      contractRequest(job, { command: 'true', logDir: `${dir}/logs`, spec: setup.rejectedSpec }),
    finish: (job, exitCode) =>
      setup.shell(
        `mkdir -p ${shellQuotePath(`${dir}/release`)} && ${releaseJobCommand(release(job.tag), exitCode)}`,
      ),
    unreachable: () =>
      create(
        new BackendError('connection refused (contract test: the scheduler is unreachable)', {
          transient: true,
        }),
      ),
    loseNextSubmitAnswer(backend) {
      wireOf(backend).loseNextAnswer(
        (_command, options) => options?.logAs?.startsWith(setup.submitLogAs) ?? false,
      );
    },
    roundTrips: (backend) => wireOf(backend).calls,
    timeoutMs: 120_000,
    pollMs: 500,
    cleanup: () => setup.shell(`rm -rf ${shellQuotePath(dir)}`).catch(() => undefined),
  };
  return { create: () => create(), driver };
}
