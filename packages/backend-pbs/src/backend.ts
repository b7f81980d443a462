/**
 * The PBS Pro / Torque backend: detects the dialect and the job-history mode once, submits batches
 * of tasks with one SSH round trip, polls all tracked jobs with one status program (see
 * `status.ts`), learns completions from exit-marker files, and reads logs and cluster information
 * over the same SSH connection. It never issues a per-job accounting command.
 */
import {
  type Backend,
  BackendError,
  type ClusterInfo,
  type ExternalJob,
  type PartitionInfo,
  type SubmitRequest,
  type TrackedJob,
  tagOfJobName,
} from '@scripthut/core';
import {
  backendExec,
  DEFAULT_MARKER_DIR,
  markerPathIn,
  readExitMarkers,
  remoteHome,
  type SchedulerBackendOptions,
  splitSections,
  sshBackendMembers,
  truncateOutput as truncate,
} from '@scripthut/ssh';
import { createPbsArrays, parseMaxArraySize, parseMaxSlotLimit, pbsArrayJobIdOf } from './arrays.js';
import {
  detectFlavour,
  jobHistoryEnabled,
  parsePbsnodes,
  parseQstatA,
  parseQstatQueues,
  parseQstatServer,
  pendingCounts,
} from './cluster.js';
import { displayJobNumber, isValidPbsJobId, type PbsFlavour, parseQstatText } from './parse.js';
import {
  buildCancelProgram,
  buildClusterInfoProgram,
  buildDetectProgram,
  buildFindByTagsProgram,
  externalJobsCommand,
  GONE_JOB,
  parseDfPk,
} from './programs.js';
import { type PbsScriptOptions, renderPbsScript, TAG_RE } from './script.js';
import { createStatusPoll, type StatusContext } from './status.js';
import { createPbsSubmission } from './submission.js';
import { createUsageQuery } from './usage.js';

/** Options of {@link createPbsBackend} (`account` is `-A`; `arrays`: PBS Pro `-J`, Torque `-t`). */
export interface PbsBackendOptions extends SchedulerBackendOptions {
  /** Queue for every job; overrides the task's `partition`. */
  queue?: string | null;
  /** Dialect; `auto` (default) detects it once with `qstat --version` / `qstat -Bf`. */
  flavour?: PbsFlavour | 'auto';
  /**
   * Format of the job records the status poll reads: `auto` (default: PBS Pro `-F json`, falling
   * back to text for good when the server prints malformed JSON; Torque XML) or `text` (plain
   * `qstat -f`, for servers whose JSON output is known to be broken).
   */
  statusFormat?: 'auto' | 'text';
}

/** What the backend learned about the PBS server (once per backend, i.e. per connection). */
export interface PbsServerFacts {
  flavour: PbsFlavour;
  /** `pbs_version` / Torque version, when reported. */
  version: string | null;
  /**
   * PBS Pro keeps finished jobs (`job_history_enable = True`), so `qstat -x` / `qselect -x` see
   * them. Stock installs leave it off. Always false for Torque (it keeps completed jobs for
   * `keep_completed` seconds without `-x`).
   */
  history: boolean;
  /** PBS Pro `max_array_size` / Torque `max_job_array_size` from `qstat -Bf` (null when not shown). */
  maxArraySize: number | null;
  /** Torque `max_slot_limit` from `qstat -Bf` (null when not shown; PBS Pro: null). */
  maxSlotLimit: number | null;
}

/** The PBS backend, with a few PBS-specific extras. */
export interface PbsBackend extends Backend {
  readonly type: 'pbs';
  readonly markerDir: string;
  /** The dialect in use (detected once and cached when `flavour` is `auto`). */
  flavour(): Promise<PbsFlavour>;
  /**
   * Dialect, version and job-history mode, detected once with `qstat --version` and `qstat -Bf`
   * (one round trip). The history mode is corrected when a status answer contradicts it.
   */
  serverFacts(): Promise<PbsServerFacts>;
  /** Resolve a `~`/relative path against the (cached) home directory. */
  resolvePath(path: string): string;
}

/** Job names ScriptHut gives its jobs (`<tag>-<task name>`), as `qstat -a` shows them (truncated). */
const SCRIPTHUT_JOB_NAME = /^sh[0-9a-f]{8}/;
const USER_NAME = /^[A-Za-z_][A-Za-z0-9._-]*$/;

/**
 * Create a PBS Pro / Torque backend over an SSH connection.
 *
 * @example
 * ```ts
 * const ssh = new SshConnection({ host: 'login.hpc.edu', port: 22, user: 'me', keyPath: '~/.ssh/id_ed25519' });
 * const pbs = createPbsBackend({ name: 'hpc', ssh, maxConcurrent: 100, queue: 'batch' });
 * const [outcome] = await pbs.submit([request]); // one SSH round trip for the whole batch
 * const statuses = await pbs.status(tracked);   // one status program for every tracked job
 * ```
 */
export function createPbsBackend(options: PbsBackendOptions): PbsBackend {
  const { ssh } = options;
  const markerDir = options.markerDir ?? DEFAULT_MARKER_DIR;
  const cloneDir = options.cloneDir ?? '~/scripthut-repos';
  const chunkSize = Math.max(1, options.submitChunkSize ?? 100);
  const forced: PbsFlavour | null = options.flavour && options.flavour !== 'auto' ? options.flavour : null;
  let facts: PbsServerFacts | null = null;
  let detecting: Promise<PbsServerFacts> | null = null;

  const markerPath = (tag: string) => markerPathIn(markerDir, tag);

  const run = backendExec(ssh, options.name);

  const { resolvePath, homeDir } = remoteHome(run, options.name);

  const serverFacts = async (): Promise<PbsServerFacts> => {
    if (facts) return facts;
    detecting ??= (async () => {
      const r = await run('bash -s', {
        stdin: buildDetectProgram(),
        timeoutMs: 30_000,
        logAs: 'qstat --version; qstat -Bf (dialect and job history detection)',
      });
      const s = splitSections(r.stdout);
      const server = s.get('server') ?? '';
      const found = forced
        ? { flavour: forced, version: detectFlavour(s.get('version') ?? '', server)?.version ?? null }
        : detectFlavour(s.get('version') ?? '', server);
      if (!found || !s.has('end')) {
        throw new BackendError(
          `backend ${options.name}: cannot tell PBS Pro from Torque (qstat --version said ${JSON.stringify(truncate((s.get('version') ?? r.stderr).trim(), 200))})`,
          { transient: true, output: truncate(r.stdout) },
        );
      }
      facts = {
        flavour: found.flavour,
        version: found.version,
        history: found.flavour === 'pro' && jobHistoryEnabled(server),
        maxArraySize: parseMaxArraySize(server),
        maxSlotLimit: found.flavour === 'torque' ? parseMaxSlotLimit(server) : null,
      };
      return facts;
    })().finally(() => {
      detecting = null;
    });
    return detecting;
  };

  const flavour = async (): Promise<PbsFlavour> => forced ?? (await serverFacts()).flavour;

  const scriptOptions = (fl: PbsFlavour = forced ?? facts?.flavour ?? 'pro'): PbsScriptOptions => ({
    flavour: fl,
    queue: options.queue ?? null,
    account: options.account ?? null,
    loginShell: options.loginShell ?? false,
    resolvePath,
  });
  const render = (request: SubmitRequest, fl?: PbsFlavour): string =>
    renderPbsScript(request, { ...scriptOptions(fl), exitMarkerPath: markerPath(request.tag) });

  const statusContext: StatusContext = {
    name: options.name,
    markerDir,
    run,
    server: serverFacts,
    setHistory: (history) => {
      if (facts) facts = { ...facts, history };
    },
    resolvePath: async (p) => {
      await homeDir();
      return resolvePath(p);
    },
    forcedFormat: options.statusFormat === 'text' ? 'text' : null,
  };
  const status = createStatusPoll(statusContext);
  const fetchUsage = createUsageQuery(statusContext);

  async function findByTags(tags: string[]): Promise<Map<string, string>> {
    const valid = [...new Set(tags.filter((t) => TAG_RE.test(t)))];
    const found = new Map<string, string>();
    if (!valid.length) return found;
    const { flavour: fl, history } = await serverFacts();
    const r = await run('bash -s', {
      stdin: buildFindByTagsProgram(fl, history),
      timeoutMs: 120_000,
      logAs: `qselect -u $USER${fl === 'pro' && history ? ' -x' : ''} | xargs qstat -f (job names, tag lookup of ${valid.length} tags)`,
    });
    const s = splitSections(r.stdout);
    if (!s.has('end')) {
      throw new BackendError(`tag lookup failed on backend ${options.name}`, {
        transient: true,
        command: 'qselect -u … | xargs qstat -f',
        output: truncate(r.stderr),
      });
    }
    if (fl === 'pro' && (s.get('history') ?? '').trim() === '0' && history && facts)
      facts = { ...facts, history: false };
    const wanted = new Set(valid);
    for (const rec of parseQstatText(s.get('out') ?? '')) {
      const tag = rec.attrs.Job_Name ? tagOfJobName(rec.attrs.Job_Name) : null;
      if (!tag || !wanted.has(tag)) continue;
      // Torque's qselect lists an array's elements (`123[7].server`, named `<array name>-7`), not
      // the array itself: the tag names the array `123[].server`, whichever of them is listed.
      const id = pbsArrayJobIdOf(rec.id);
      const prev = found.get(tag);
      if (!prev || Number.parseInt(displayJobNumber(id), 10) > Number.parseInt(displayJobNumber(prev), 10))
        found.set(tag, id);
    }
    return found;
  }

  const submit = createPbsSubmission({
    run,
    render,
    resolvePath,
    homeDir,
    flavour,
    markerDir,
    markerPath,
    chunkSize,
    findByTags,
  });

  const arrays =
    options.arrays !== true
      ? undefined
      : createPbsArrays({
          run,
          server: serverFacts,
          scriptOptions: () => scriptOptions(),
          resolvePath,
          homeDir,
          markerDir,
          markerPath,
          findByTags,
        });

  async function quickStatus(jobs: TrackedJob[]) {
    return readExitMarkers(run, markerDir, jobs, (tag) => TAG_RE.test(tag));
  }

  async function cancel(jobs: TrackedJob[]): Promise<void> {
    const ids = [...new Set(jobs.map((j) => j.jobId).filter(isValidPbsJobId))];
    if (!ids.length) return;
    // The dialect matters only for array elements (how qselect lists them); known by then.
    const fl =
      forced ??
      facts?.flavour ??
      (ids.some((id) => id.includes('[')) ? (await serverFacts()).flavour : 'pro');
    const r = await run('bash -s', {
      stdin: buildCancelProgram(ids, fl),
      timeoutMs: 30_000 + 10 * ids.length,
      // the ids (validated) when few, as the Slurm backend's scancel entry: the log says which jobs
      logAs: `qdel ${ids.length <= 20 ? ids.join(' ') : `<${ids.length} ids>`}`,
    });
    const s = splitSections(r.stdout);
    const rc = Number((s.get('rc') ?? '').trim());
    const stderr = s.get('err') ?? '';
    if (s.has('qselect')) {
      throw new BackendError(
        `qselect failed on backend ${options.name}, nothing was cancelled: ${truncate(stderr.trim() || `exit ${s.get('qselect')?.trim()}`, 500)}`,
        { transient: true, command: 'qselect -u …', output: truncate(stderr) },
      );
    }
    if (!s.has('end') || !Number.isFinite(rc)) {
      throw new BackendError(`qdel program failed on backend ${options.name}`, {
        transient: true,
        command: 'qdel …',
        output: truncate(r.stderr),
      });
    }
    if (rc === 0) return;
    const meaningful = stderr
      .split('\n')
      .filter((l) => l.trim())
      .filter((l) => !GONE_JOB.test(l));
    if (meaningful.length || !stderr.trim()) {
      throw new BackendError(
        `qdel failed on backend ${options.name}: ${truncate(meaningful.join('\n') || `exit ${rc}`, 500)}`,
        { transient: true, command: 'qdel …', output: truncate(stderr) },
      );
    }
  }

  async function clusterInfo(): Promise<ClusterInfo> {
    const known = await serverFacts();
    const r = await run('bash -s', {
      stdin: buildClusterInfoProgram(cloneDir),
      timeoutMs: 60_000,
      logAs: `pbsnodes -a; qstat -Qf; qstat -Bf; df -Pk ${cloneDir}`,
    });
    const s = splitSections(r.stdout);
    if (!s.has('end')) {
      throw new BackendError(`cluster information failed on backend ${options.name}`, {
        transient: true,
        output: truncate(r.stderr),
      });
    }
    const nodes = parsePbsnodes(s.get('nodes') ?? '');
    const queues = parseQstatQueues(s.get('queues') ?? '');
    const server = parseQstatServer(s.get('server') ?? '');
    const defaultQueue = options.queue ?? server?.attrs.default_queue ?? null;
    const partitions: PartitionInfo[] = queues
      .filter((q) => !q.type || /^e/i.test(q.type))
      .map((q) => ({
        name: q.name,
        isDefault: q.name === defaultQueue,
        state: q.enabled === false || q.started === false ? 'down' : 'up',
        cpusIdle: nodes.cpusIdle,
        cpusTotal: nodes.cpusTotal,
        cpusAllocated: nodes.cpusAllocated,
        nodes: nodes.nodes.length,
        timeLimit: q.maxWalltime,
        gpusTotal: nodes.gpusTotal,
        gpusIdle: nodes.gpusIdle,
      }));
    const info: Record<string, string> = {
      flavour: known.flavour === 'pro' ? 'PBS Pro' : 'Torque',
      cpusOther: String(nodes.cpusOther),
      cpusAllocated: String(nodes.cpusAllocated),
    };
    if (known.flavour === 'pro') info.jobHistory = known.history ? 'on' : 'off';
    const v = known.version ?? server?.attrs.pbs_version ?? null;
    if (v) info.version = v;
    if (server) info.server = server.name;
    if (nodes.memPerNodeMb !== null) info.memPerNodeMb = String(nodes.memPerNodeMb);
    return {
      cpusIdle: nodes.nodes.length ? nodes.cpusIdle : null,
      cpusTotal: nodes.nodes.length ? nodes.cpusTotal : null,
      partitions,
      pendingReasons: pendingCounts(queues),
      disk: parseDfPk(s.get('df') ?? '', cloneDir),
      facts: info,
    };
  }

  async function externalJobs(user: string | null): Promise<ExternalJob[]> {
    const who = user ?? options.user ?? null;
    if (who !== null && !USER_NAME.test(who))
      throw new BackendError(`invalid user name for qstat -u: ${JSON.stringify(who)}`, { transient: false });
    const command = externalJobsCommand(who);
    const r = await run(command, { timeoutMs: 30_000 });
    if (r.exitCode !== 0 && r.stderr.trim()) {
      throw new BackendError(`qstat failed on backend ${options.name}: ${truncate(r.stderr.trim(), 500)}`, {
        transient: true,
        output: truncate(r.stderr),
      });
    }
    return parseQstatA(r.stdout).filter((j) => !SCRIPTHUT_JOB_NAME.test(j.name));
  }

  return {
    name: options.name,
    type: 'pbs',
    maxConcurrent: options.maxConcurrent,
    pollIntervalMs: options.pollIntervalMs,
    quickStatusIntervalMs: 1000,
    markerDir,
    flavour,
    serverFacts,
    resolvePath,
    renderScript: (request) => render(request),
    submit,
    status,
    quickStatus,
    fetchUsage,
    findByTags,
    arrays,
    cancel,
    clusterInfo,
    externalJobs,
    ...sshBackendMembers({ name: options.name, ssh, run, resolvePath, homeDir }),
  };
}
