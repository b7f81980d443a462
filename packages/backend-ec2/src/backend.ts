import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { open as openFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  DescribeInstancesCommand,
  type DescribeInstancesCommandInput,
  EC2Client,
  type Filter,
  type Instance,
  RunInstancesCommand,
  type RunInstancesCommandInput,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { EC2InstanceConnectClient, SendSSHPublicKeyCommand } from '@aws-sdk/client-ec2-instance-connect';
import { awsCredentials, localCommandRunner } from '@scripthut/aws-common';
import type { Ec2BackendConfig } from '@scripthut/config';
import {
  type Backend,
  BackendError,
  type BackendHealth,
  type ClusterInfo,
  type JobStatus,
  type LogChunk,
  type LogReadOptions,
  type LogRequest,
  type SubmitOutcome,
  type SubmitRequest,
  shellQuotePath,
  type TrackedJob,
} from '@scripthut/core';
import { completeUtf8 as utf8Complete } from '@scripthut/ssh';
import {
  containerEnvAndDir,
  instanceTags,
  instanceTypeFor,
  renderTaskScript,
  renderUserData,
  SENTINEL_PATH,
  TASK_LOG_PATH,
  tagKeys,
  wantsGpu,
} from './mapping.js';
import {
  classifyAwsError,
  errorText,
  isTransientKind,
  type RetryPolicy,
  realSleep,
  type Sleep,
  withRetry,
} from './retry.js';
import { InstanceSession } from './session.js';
import { SsmTunnelFactory, type TunnelFactory } from './tunnel.js';

/** Structured logger; every method optional. Messages never contain env values. */
export interface Ec2Logger {
  debug?(message: string): void;
  info?(message: string): void;
  warn?(message: string): void;
}

/** Options of {@link createEc2Backend}. */
export interface Ec2BackendOptions {
  /** Backend name (the `<tag_prefix>:backend` tag value). */
  name: string;
  config: Ec2BackendConfig;
  /** ScriptHut's data dir: archived logs go to `<dataDir>/ec2-logs/<run_id>/<task_id>.log`. */
  dataDir: string;
  /** Injected SDK clients (tests, custom endpoints); created from `config.aws` when absent. */
  clients?: { ec2?: EC2Client; instanceConnect?: EC2InstanceConnectClient; ssm?: unknown };
  /** Replaces the SSM port-forwarding tunnel (default {@link SsmTunnelFactory}). */
  tunnelFactory?: TunnelFactory;
  /** Clock (startup timeout, launch bookkeeping). Default `Date.now`. */
  now?: () => number;
  /** Sleep used between AWS retries. */
  sleep?: Sleep;
  retry?: RetryPolicy;
  logger?: Ec2Logger;
  /** Timeout of one probe command, including (re)connecting the tunnel (default 30 000 ms). */
  probeTimeoutMs?: number;
  /** Instances probed at once (default 5). */
  probeConcurrency?: number;
  /**
   * Test seam: a directory prepended to the instance paths (`/var/run/scripthut/done`,
   * `/var/log/scripthut/task.log`) when probing an instance. Default: none.
   */
  instancePathPrefix?: (instanceId: string) => string;
  /**
   * Test seam: authenticate with this private key instead of the ephemeral one (the ephemeral key
   * is still pushed with SendSSHPublicKey).
   */
  sshKeyPath?: string;
  /** Seconds a freshly launched instance may be missing from DescribeInstances (default 120). */
  launchVisibilityGraceSeconds?: number;
}

/** The EC2 backend: the core {@link Backend} plus a connectivity check. */
export interface Ec2Backend extends Backend {
  readonly type: 'ec2';
  /** Instances currently counted against `max_instances`. */
  activeInstances(): string[];
  /** DescribeInstances with DryRun: `ok` when the credentials may call it. */
  checkAccess(): Promise<{ ok: boolean; message: string }>;
}

interface Launch {
  runId: string;
  taskId: string;
  tag: string;
  launchedAt: number;
}

interface Verdict {
  instanceId: string;
  state: JobStatus['state'];
  exitCode: number | null;
  reason: string | null;
  finishedAt: string;
}

const MAX_USER_DATA = 16 * 1024;
const ARCHIVE_CHUNK = 8 * 1024 * 1024;
const STDERR_NOTE =
  'On EC2 the container output and errors are merged (docker run 2>&1): see the output tab.';

function toBackendError(err: unknown, label: string): BackendError {
  if (err instanceof BackendError) return err;
  const kind = classifyAwsError(err);
  const hint = kind === 'credentials' ? ' (check the AWS credentials / profile ScriptHut runs with)' : '';
  return new BackendError(`${label} failed: ${errorText(err)}${hint}`, {
    transient: isTransientKind(kind),
    cause: err,
    command: label,
  });
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

function tagValue(inst: Instance, key: string): string | null {
  return inst.Tags?.find((t) => t.Key === key)?.Value ?? null;
}

/**
 * Create the EC2 backend: one instance per task, completion read over SSH tunnelled through SSM.
 *
 * @example
 * ```ts
 * const backend = createEc2Backend({ name: 'aws-ec2', config, dataDir: '~/.scripthut' });
 * const [outcome] = await backend.submit([request]);   // RunInstances
 * const statuses = await backend.status(tracked);      // one DescribeInstances + probes
 * ```
 */
export function createEc2Backend(options: Ec2BackendOptions): Ec2Backend {
  const cfg = options.config;
  const name = options.name;
  const region = cfg.aws.region;
  const profile = cfg.aws.profile ?? null;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const policy = options.retry ?? {};
  const log = options.logger ?? { warn: (m: string) => console.warn(`[ec2:${name}] ${m}`) };
  const keys = tagKeys(cfg.tag_prefix);
  const maxInstances = Math.max(1, cfg.max_instances);
  const startupTimeoutMs = cfg.startup_timeout_seconds * 1000;
  const visibilityGraceMs = (options.launchVisibilityGraceSeconds ?? 120) * 1000;
  const prefixOf = options.instancePathPrefix ?? (() => '');
  const tunnelFactory = options.tunnelFactory ?? new SsmTunnelFactory();
  const archiveRoot = join(options.dataDir, 'ec2-logs');

  let ec2 = options.clients?.ec2;
  let ic = options.clients?.instanceConnect;
  const ownEc2 = !ec2;
  const ownIc = !ic;
  if (!ec2 || !ic) {
    // The named profile or the default chain (env, shared files, instance role). Never stored.
    const credentials = awsCredentials(profile);
    if (!ec2) ec2 = new EC2Client({ region, credentials, maxAttempts: 1 });
    if (!ic) ic = new EC2InstanceConnectClient({ region, credentials, maxAttempts: 1 });
  }
  const ec2Client = ec2;
  const icClient = ic;

  const health: BackendHealth = { connected: true, lastError: null, endpoint: `AWS EC2 ${region}` };
  const launches = new Map<string, Launch>();
  const active = new Set<string>();
  const verdicts = new Map<string, Verdict>();
  const cancelled = new Set<string>();
  const pendingTerminate = new Set<string>();
  const lastState = new Map<string, string>();
  const azOf = new Map<string, string>();
  const sessions = new Map<string, InstanceSession>();
  let synced = false;
  let closed = false;

  async function call<T>(label: string, fn: () => Promise<T>): Promise<T> {
    try {
      const out = await withRetry(fn, { policy, sleep });
      health.connected = true;
      health.lastError = null;
      return out;
    } catch (err) {
      if (classifyAwsError(err) !== 'client') {
        health.connected = false;
        health.lastError = `${label}: ${errorText(err)}`.slice(0, 500);
      }
      throw err;
    }
  }

  async function describe(input: DescribeInstancesCommandInput): Promise<Instance[]> {
    const out: Instance[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const res = await call('DescribeInstances', () =>
        ec2Client.send(new DescribeInstancesCommand({ ...input, NextToken: token })),
      );
      for (const r of res.Reservations ?? []) out.push(...(r.Instances ?? []));
      token = res.NextToken;
    } while (token && ++pages < 100);
    return out;
  }

  const backendFilter = (): Filter => ({ Name: `tag:${keys.backend}`, Values: [name] });
  const LIVE_STATES = ['pending', 'running'];
  const GONE_STATES = ['shutting-down', 'terminated', 'stopping', 'stopped'];

  /** Re-count the instances that occupy slots from one DescribeInstances answer. */
  function resync(instances: Instance[]): void {
    const seen = new Set<string>();
    for (const inst of instances) {
      const id = inst.InstanceId;
      if (!id) continue;
      seen.add(id);
      const st = inst.State?.Name ?? 'unknown';
      lastState.set(id, st);
      if (inst.Placement?.AvailabilityZone) azOf.set(id, inst.Placement.AvailabilityZone);
      if (LIVE_STATES.includes(st) && !verdicts.has(id)) active.add(id);
      else active.delete(id);
    }
    for (const id of [...active]) {
      if (seen.has(id)) continue;
      const l = launches.get(id);
      if (!l || now() - l.launchedAt > visibilityGraceMs) active.delete(id);
    }
    synced = true;
  }

  function session(instanceId: string): InstanceSession {
    let s = sessions.get(instanceId);
    if (!s) {
      s = new InstanceSession({
        tunnelFactory,
        target: { instanceId, region, profile, remotePort: 22 },
        sshUser: cfg.ssh_user,
        keyPathOverride: options.sshKeyPath ?? null,
        onWarning: (m) => log.warn?.(m),
        pushKey: async (publicKey) => {
          let az = azOf.get(instanceId);
          if (!az) {
            const [inst] = await describe({ InstanceIds: [instanceId] });
            az = inst?.Placement?.AvailabilityZone ?? undefined;
            if (az) azOf.set(instanceId, az);
          }
          await call('SendSSHPublicKey', () =>
            icClient.send(
              new SendSSHPublicKeyCommand({
                InstanceId: instanceId,
                InstanceOSUser: cfg.ssh_user,
                SSHPublicKey: publicKey,
                AvailabilityZone: az,
              }),
            ),
          );
        },
      });
      sessions.set(instanceId, s);
    }
    return s;
  }

  async function dropSession(instanceId: string): Promise<void> {
    const s = sessions.get(instanceId);
    sessions.delete(instanceId);
    await s?.close();
  }

  function archivePath(runId: string, taskId: string): string {
    const safe = (v: string) => v.replace(/[/\\]/g, '_').replace(/^\.+/, '_') || '_';
    return join(archiveRoot, safe(runId), `${safe(taskId)}.log`);
  }

  function saveVerdict(runId: string, taskId: string, v: Verdict): void {
    verdicts.set(v.instanceId, v);
    active.delete(v.instanceId);
    try {
      const p = `${archivePath(runId, taskId)}.exit.json`;
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(`${p}.tmp`, `${JSON.stringify(v)}\n`);
      renameSync(`${p}.tmp`, p);
    } catch (err) {
      log.warn?.(`cannot record the result of ${v.instanceId}: ${errorText(err)}`);
    }
  }

  function loadVerdict(instanceId: string, runId: string, taskId: string): Verdict | null {
    const cached = verdicts.get(instanceId);
    if (cached) return cached;
    try {
      const v = JSON.parse(readFileSync(`${archivePath(runId, taskId)}.exit.json`, 'utf8')) as Verdict;
      if (v.instanceId !== instanceId) return null;
      verdicts.set(instanceId, v);
      return v;
    } catch {
      return null;
    }
  }

  function statusOf(v: Verdict): JobStatus {
    return {
      jobId: v.instanceId,
      state: v.state,
      exitCode: v.exitCode,
      reason: v.reason,
      finishedAt: v.finishedAt,
      final: true,
      rawState: 'terminated',
    };
  }

  async function terminate(ids: string[]): Promise<void> {
    for (const group of chunk(ids, 1000)) {
      for (const id of group) pendingTerminate.add(id);
      try {
        await call('TerminateInstances', () =>
          ec2Client.send(new TerminateInstancesCommand({ InstanceIds: group })),
        );
        for (const id of group) pendingTerminate.delete(id);
      } catch (err) {
        const kind = classifyAwsError(err);
        if (kind === 'client' && /InvalidInstanceID\.NotFound/.test(errorText(err))) {
          for (const id of group) pendingTerminate.delete(id);
          continue;
        }
        log.warn?.(`TerminateInstances ${group.join(',')} failed (will retry): ${errorText(err)}`);
      }
    }
  }

  /** Copies the whole task log into the local archive (chunked, byte-exact). */
  async function archiveLog(instanceId: string, runId: string, taskId: string): Promise<void> {
    const s = session(instanceId);
    const path = `${prefixOf(instanceId)}${TASK_LOG_PATH}`;
    const dest = archivePath(runId, taskId);
    mkdirSync(dirname(dest), { recursive: true });
    const tmp = `${dest}.partial`;
    const fh = await openFile(tmp, 'w');
    try {
      let offset = 0;
      for (;;) {
        const r = await s.readRange(path, offset, ARCHIVE_CHUNK, 120_000);
        if (r.missing) break;
        await fh.write(r.data);
        offset += r.data.length;
        if (r.data.length < ARCHIVE_CHUNK || offset >= r.size) break;
      }
    } finally {
      await fh.close();
    }
    renameSync(tmp, dest);
  }

  /** Sentinel check of a running instance; on completion archive, terminate and record. */
  async function probe(job: TrackedJob, inst: Instance): Promise<JobStatus> {
    const id = job.jobId;
    const startedAt = inst.LaunchTime ? new Date(inst.LaunchTime).toISOString() : null;
    const node = `${id}${inst.Placement?.AvailabilityZone ? ` (${inst.Placement.AvailabilityZone})` : ''}`;
    const running: JobStatus = {
      jobId: id,
      state: 'running',
      startedAt,
      node,
      rawState: 'running',
      final: false,
    };
    const s = session(id);
    let exitCode: number | null = null;
    try {
      const sentinel = `${prefixOf(id)}${SENTINEL_PATH}`;
      const res = await s.exec(
        `cat -- ${shellQuotePath(sentinel)} 2>/dev/null || echo MISSING`,
        options.probeTimeoutMs ?? 30_000,
      );
      const text = res.stdout.trim();
      if (text === 'MISSING' || text === '') return running;
      const n = Number.parseInt(text, 10);
      if (!Number.isFinite(n)) return running;
      exitCode = n;
      await archiveLog(id, job.runId, job.taskId);
    } catch (err) {
      // A dead tunnel or SSH hiccup: keep the task running, retry next poll.
      log.debug?.(`probe of ${id} failed (will retry): ${errorText(err)}`);
      return { ...running, reason: `probe failed, will retry: ${errorText(err).slice(0, 300)}` };
    }
    const state: JobStatus['state'] = exitCode === 0 ? 'completed' : exitCode === 124 ? 'timeout' : 'failed';
    const v: Verdict = {
      instanceId: id,
      state,
      exitCode,
      reason: state === 'timeout' ? 'docker run exceeded the time limit' : null,
      finishedAt: new Date(now()).toISOString(),
    };
    saveVerdict(job.runId, job.taskId, v);
    await dropSession(id);
    await terminate([id]);
    return { ...statusOf(v), startedAt, node };
  }

  async function status(jobs: TrackedJob[]): Promise<Map<string, JobStatus>> {
    const result = new Map<string, JobStatus>();
    if (!jobs.length) return result;
    if (pendingTerminate.size) await terminate([...pendingTerminate]);
    let instances: Instance[];
    try {
      instances = await describe({ Filters: [backendFilter()] });
    } catch (err) {
      throw toBackendError(err, 'DescribeInstances');
    }
    resync(instances);
    const byId = new Map(instances.filter((i) => i.InstanceId).map((i) => [i.InstanceId!, i]));
    const toProbe: { job: TrackedJob; inst: Instance }[] = [];
    const toTerminate: string[] = [];
    for (const job of jobs) {
      const id = job.jobId;
      const inst = byId.get(id);
      const runId = job.runId || (inst && tagValue(inst, keys.runId)) || '';
      const taskId = job.taskId || (inst && tagValue(inst, keys.taskId)) || '';
      const known = loadVerdict(id, runId, taskId);
      if (known) {
        result.set(id, statusOf(known));
        if (inst && LIVE_STATES.includes(inst.State?.Name ?? '') && !pendingTerminate.has(id))
          toTerminate.push(id);
        continue;
      }
      if (!inst) {
        const l = launches.get(id);
        if (l && now() - l.launchedAt <= visibilityGraceMs) {
          result.set(id, {
            jobId: id,
            state: 'pending',
            reason: 'launching',
            rawState: 'pending',
            final: false,
          });
        } else {
          result.set(id, { jobId: id, state: 'unknown', reason: `instance ${id} not found`, rawState: null });
        }
        continue;
      }
      const st = inst.State?.Name ?? 'unknown';
      if (st === 'pending') {
        const launchedAt =
          launches.get(id)?.launchedAt ?? (inst.LaunchTime ? new Date(inst.LaunchTime).getTime() : now());
        if (now() - launchedAt > startupTimeoutMs) {
          const v: Verdict = {
            instanceId: id,
            state: 'failed',
            exitCode: null,
            reason: `instance ${id} did not reach running within ${cfg.startup_timeout_seconds} s`,
            finishedAt: new Date(now()).toISOString(),
          };
          saveVerdict(runId, taskId, v);
          toTerminate.push(id);
          result.set(id, statusOf(v));
        } else {
          result.set(id, {
            jobId: id,
            state: 'pending',
            reason: 'instance pending',
            rawState: 'pending',
            final: false,
          });
        }
        continue;
      }
      if (st === 'running') {
        toProbe.push({ job: { ...job, runId, taskId }, inst });
        continue;
      }
      if (GONE_STATES.includes(st)) {
        const byUs = cancelled.has(id);
        const why = inst.StateReason?.Message ?? inst.StateTransitionReason ?? '';
        const v: Verdict = {
          instanceId: id,
          state: byUs ? 'cancelled' : 'node_fail',
          exitCode: null,
          reason: byUs
            ? 'instance terminated on cancel'
            : `instance ${id} is ${st} and its result was never read${why ? ` (${why})` : ''}`,
          finishedAt: new Date(now()).toISOString(),
        };
        saveVerdict(runId, taskId, v);
        void dropSession(id);
        result.set(id, statusOf(v));
        continue;
      }
      result.set(id, { jobId: id, state: 'unknown', rawState: st, reason: st });
    }
    if (toTerminate.length) await terminate(toTerminate);
    await pool(toProbe, Math.max(1, options.probeConcurrency ?? 5), async ({ job, inst }) => {
      result.set(job.jobId, await probe(job, inst));
    });
    return result;
  }

  async function submitOne(req: SubmitRequest): Promise<SubmitOutcome> {
    let script: string;
    let userData: string;
    const image = req.task.image ?? cfg.default_image ?? null;
    try {
      script = renderTaskScript(req);
      if (!image) throw new Error('no container image: set the task image or the backend default_image');
      userData = renderUserData({
        runId: req.runId,
        taskId: req.taskId,
        image,
        script,
        env: containerEnvAndDir(req).env,
        timeLimitSeconds: req.task.timeLimitSeconds,
        idleTerminateSeconds: cfg.idle_terminate_seconds,
        gpu: wantsGpu(req.task),
      });
    } catch (err) {
      return {
        taskId: req.taskId,
        ok: false,
        transient: false,
        error: `cannot build the instance: ${errorText(err)}`,
      };
    }
    let payload = Buffer.from(userData, 'utf8');
    if (payload.length > MAX_USER_DATA) payload = gzipSync(payload, { level: 9 });
    if (payload.length > MAX_USER_DATA) {
      return {
        taskId: req.taskId,
        ok: false,
        transient: false,
        script,
        error: `user-data is ${payload.length} bytes even compressed (EC2 allows 16 KB): shorten the command or environment`,
      };
    }
    if (active.size >= maxInstances) {
      return {
        taskId: req.taskId,
        ok: false,
        transient: true,
        script,
        error: `max_instances (${maxInstances}) reached: waiting for a free instance slot`,
      };
    }
    const instanceType = instanceTypeFor(req.task.partition, cfg.instance_types);
    const tags = instanceTags({
      prefix: cfg.tag_prefix,
      backendName: name,
      runId: req.runId,
      taskId: req.taskId,
      tag: req.tag,
      extraTags: cfg.extra_tags,
    });
    const input: RunInstancesCommandInput = {
      ImageId: cfg.ami,
      InstanceType: instanceType as RunInstancesCommandInput['InstanceType'],
      MinCount: 1,
      MaxCount: 1,
      SubnetId: cfg.subnet_id,
      UserData: payload.toString('base64'),
      InstanceInitiatedShutdownBehavior: 'terminate',
      // Idempotency: a retried RunInstances with the same token returns the same instance.
      ClientToken: req.tag.slice(0, 64),
      TagSpecifications: [
        { ResourceType: 'instance', Tags: tags },
        { ResourceType: 'volume', Tags: tags },
      ],
      ...(cfg.security_group_ids.length ? { SecurityGroupIds: cfg.security_group_ids } : {}),
      ...(cfg.instance_profile_arn ? { IamInstanceProfile: { Arn: cfg.instance_profile_arn } } : {}),
      MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled' },
    };
    active.add(`launching:${req.tag}`);
    try {
      const out = await call('RunInstances', () => ec2Client.send(new RunInstancesCommand(input)));
      const id = out.Instances?.[0]?.InstanceId;
      if (!id) throw new Error('RunInstances returned no instance');
      launches.set(id, { runId: req.runId, taskId: req.taskId, tag: req.tag, launchedAt: now() });
      active.add(id);
      const az = out.Instances?.[0]?.Placement?.AvailabilityZone;
      if (az) azOf.set(id, az);
      return {
        taskId: req.taskId,
        ok: true,
        jobId: id,
        script,
        meta: { instanceType, image, region, userDataBytes: payload.length },
      };
    } catch (err) {
      const kind = classifyAwsError(err);
      return {
        taskId: req.taskId,
        ok: false,
        transient: isTransientKind(kind),
        script,
        error: `RunInstances (${instanceType}) failed: ${errorText(err)}`,
      };
    } finally {
      active.delete(`launching:${req.tag}`);
    }
  }

  async function findByTags(tags: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const group of chunk([...new Set(tags)], 200)) {
      let instances: Instance[];
      try {
        instances = await describe({
          Filters: [backendFilter(), { Name: `tag:${keys.tag}`, Values: group }],
        });
      } catch (err) {
        throw toBackendError(err, 'DescribeInstances (findByTags)');
      }
      // Prefer live instances over terminated ones carrying the same tag.
      instances.sort(
        (a, b) =>
          Number(LIVE_STATES.includes(b.State?.Name ?? '')) -
          Number(LIVE_STATES.includes(a.State?.Name ?? '')),
      );
      for (const inst of instances) {
        const tag = tagValue(inst, keys.tag);
        const id = inst.InstanceId;
        if (!tag || !id || out.has(tag)) continue;
        out.set(tag, id);
        if (LIVE_STATES.includes(inst.State?.Name ?? '')) active.add(id);
        const runId = tagValue(inst, keys.runId);
        const taskId = tagValue(inst, keys.taskId);
        if (runId && taskId && inst.LaunchTime && !launches.has(id)) {
          launches.set(id, { runId, taskId, tag, launchedAt: new Date(inst.LaunchTime).getTime() });
        }
      }
    }
    return out;
  }

  async function cancel(jobs: TrackedJob[]): Promise<void> {
    const ids = jobs.map((j) => j.jobId).filter((id) => !verdicts.has(id));
    if (!ids.length) return;
    for (const job of jobs) {
      if (!ids.includes(job.jobId)) continue;
      cancelled.add(job.jobId);
      // Keep what the task printed so far, when a session is already open (best effort, short).
      if (sessions.has(job.jobId)) {
        await Promise.race([
          archiveLog(job.jobId, job.runId, job.taskId).catch(() => undefined),
          new Promise((r) => setTimeout(r, 5000).unref()),
        ]);
      }
    }
    await terminate(ids);
    for (const job of jobs) {
      if (!ids.includes(job.jobId)) continue;
      saveVerdict(job.runId, job.taskId, {
        instanceId: job.jobId,
        state: 'cancelled',
        exitCode: null,
        reason: 'instance terminated on cancel',
        finishedAt: new Date(now()).toISOString(),
      });
      await dropSession(job.jobId);
    }
  }

  async function readArchive(path: string, opts: LogReadOptions): Promise<LogChunk> {
    const size = (await stat(path)).size;
    const max = opts.maxBytes ?? 1024 * 1024;
    let start = opts.offset ?? (opts.tailBytes !== undefined ? Math.max(0, size - opts.tailBytes) : 0);
    start = Math.min(start, size);
    const len = Math.min(max, size - start);
    const fh = await openFile(path, 'r');
    try {
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, start);
      const data = utf8Complete(buf);
      return { content: data.toString('utf8'), nextOffset: start + data.length };
    } finally {
      await fh.close();
    }
  }

  async function readLog(request: LogRequest, opts: LogReadOptions): Promise<LogChunk> {
    if (request.stream === 'stderr') return { content: '', nextOffset: 0, note: STDERR_NOTE };
    const archived = archivePath(request.runId, request.taskId);
    const id = request.jobId;
    const live = id && !verdicts.has(id) && lastState.get(id) === 'running';
    if (!live && existsSync(archived)) return readArchive(archived, opts);
    if (!id || !live) {
      const st = id ? lastState.get(id) : null;
      return {
        content: '',
        nextOffset: opts.offset ?? 0,
        missing: true,
        ...(st === 'pending' ? { note: `instance ${id} is starting` } : {}),
      };
    }
    const max = opts.maxBytes ?? 1024 * 1024;
    const path = `${prefixOf(id)}${TASK_LOG_PATH}`;
    try {
      const s = session(id);
      let offset = opts.offset ?? 0;
      if (opts.offset === undefined && opts.tailBytes !== undefined) {
        const head = await s.readRange(path, 0, 0);
        offset = Math.max(0, head.size - opts.tailBytes);
      }
      const r = await s.readRange(path, offset, max);
      if (r.missing) return { content: '', nextOffset: offset, missing: true };
      const data = utf8Complete(r.data);
      return { content: data.toString('utf8'), nextOffset: offset + data.length };
    } catch (err) {
      return {
        content: '',
        nextOffset: opts.offset ?? 0,
        note: `live log of ${id} unavailable right now (will retry): ${errorText(err).slice(0, 300)}`,
      };
    }
  }

  const runner = localCommandRunner();

  const backend: Ec2Backend = {
    name,
    type: 'ec2',
    maxConcurrent: Math.min(cfg.max_concurrent, maxInstances),
    renderScript: (req) => renderTaskScript(req),
    async submit(requests) {
      if (closed) throw new BackendError(`backend ${name} is closed`, { transient: false });
      if (!synced) {
        try {
          resync(await describe({ Filters: [backendFilter()] }));
        } catch (err) {
          const e = toBackendError(err, 'DescribeInstances');
          return requests.map((r) => ({
            taskId: r.taskId,
            ok: false as const,
            transient: true,
            error: `cannot count running instances: ${e.message}`,
          }));
        }
      }
      const out: SubmitOutcome[] = [];
      for (const r of requests) out.push(await submitOne(r));
      return out;
    },
    status,
    findByTags,
    cancel,
    readLog,
    async readFile(path) {
      throw new BackendError(
        `cannot read ${path}: files written inside an EC2 task container are gone with the instance (generates_source is not supported on ec2)`,
        { transient: false },
      );
    },
    async clusterInfo(): Promise<ClusterInfo> {
      const busy = Math.min(maxInstances, active.size);
      return {
        cpusIdle: null,
        cpusTotal: null,
        partitions: Object.entries(cfg.instance_types)
          .sort(([a], [b]) => (a === 'default' ? -1 : b === 'default' ? 1 : a.localeCompare(b)))
          .map(([partition, type]) => ({
            name: partition,
            isDefault: partition === 'default',
            state: type,
            cpusIdle: maxInstances - busy,
            cpusTotal: maxInstances,
          })),
        facts: {
          region,
          'task slots': `${maxInstances - busy} free of ${maxInstances} (max_instances)`,
          'active instances': String(busy),
        },
      };
    },
    commandRunner: () => runner,
    health: () => ({ ...health }),
    activeInstances: () => [...active].filter((id) => !id.startsWith('launching:')),
    async checkAccess() {
      try {
        await ec2Client.send(new DescribeInstancesCommand({ DryRun: true, MaxResults: 5 }));
        return { ok: true, message: 'DescribeInstances answered' };
      } catch (err) {
        const n = (err as { name?: string; Code?: string }).name ?? (err as { Code?: string }).Code;
        if (n === 'DryRunOperation')
          return { ok: true, message: 'credentials may call ec2:DescribeInstances' };
        return { ok: false, message: errorText(err) };
      }
    },
    async close() {
      closed = true;
      await Promise.all([...sessions.keys()].map((id) => dropSession(id)));
      if (ownEc2) ec2Client.destroy();
      if (ownIc) icClient.destroy();
    },
  };
  return backend;
}
