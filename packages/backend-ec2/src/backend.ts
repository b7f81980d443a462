/**
 * The EC2 backend: one instance per task. This module wires clients, the AWS caller, state and
 * sessions into the core {@link Backend} contract; launching, status and probes, logs, termination
 * and cancel, the instance list and the SSH sessions live in their own modules.
 */
import { join } from 'node:path';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { EC2InstanceConnectClient } from '@aws-sdk/client-ec2-instance-connect';
import {
  type AwsBackendCommonOptions,
  awsBackendKit,
  awsClientConfig,
  errorText,
  localCommandRunner,
} from '@scripthut/aws-common';
import { type Backend, BackendError, type ClusterInfo } from '@scripthut/core';
import { EC2_CAPACITY_ERRORS } from './capacity.js';
import type { Ec2Context, Verdict } from './context.js';
import { backendFilter, describeInstances, findByTags, resync } from './fleet.js';
import { launchAll } from './launch.js';
import { readEc2Log } from './logs.js';
import { renderTaskScript, tagKeys } from './mapping.js';
import type { Ec2BackendConfig } from './plugin.js';
import { SessionPool } from './sessions.js';
import { ec2Status } from './status.js';
import { cancelJobs } from './terminate.js';
import { SsmTunnelFactory, type TunnelFactory } from './tunnel.js';

export type { Ec2Logger } from './context.js';

/**
 * Options of {@link createEc2Backend}. `dataDir` is required: archived logs go to
 * `<dataDir>/ec2-logs/<run_id>/<task_id>.log`, task verdicts to `<dataDir>/ec2-jobs/<run_id>.jsonl`.
 * `retry` defaults to 5 attempts, 200 ms first ceiling, 10 s cap; `now` drives the startup timeouts.
 */
export interface Ec2BackendOptions extends AwsBackendCommonOptions {
  config: Ec2BackendConfig;
  dataDir: string;
  /** Injected SDK clients (tests, custom endpoints); created from `config.aws` when absent. */
  clients?: { ec2?: EC2Client; instanceConnect?: EC2InstanceConnectClient; ssm?: unknown };
  /** Replaces the SSM port-forwarding tunnel (default {@link SsmTunnelFactory}). */
  tunnelFactory?: TunnelFactory;
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
  /**
   * Seconds a freshly launched instance may be missing from DescribeInstances or unknown to
   * TerminateInstances (EC2's eventual consistency; default 120).
   */
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
  const { aws, finished, log, now } = awsBackendKit<Verdict>(options, {
    type: 'ec2',
    endpoint: `AWS EC2 ${region}`,
    recordsDir: 'ec2-jobs',
    defaultPolicy: { maxAttempts: 5, maxDelayMs: 10_000 },
    // Launch errors that mean "not now" rather than "never": the task stays pending.
    classify: { capacityNames: EC2_CAPACITY_ERRORS },
  });
  const ec2 = options.clients?.ec2 ?? new EC2Client(awsClientConfig({ region, profile }));
  const instanceConnect =
    options.clients?.instanceConnect ?? new EC2InstanceConnectClient(awsClientConfig({ region, profile }));
  const ctx: Ec2Context = {
    name,
    cfg,
    region,
    profile,
    ec2,
    instanceConnect,
    aws,
    log,
    now,
    keys: tagKeys(cfg.tag_prefix),
    maxInstances: Math.max(1, cfg.max_instances),
    startupTimeoutMs: cfg.startup_timeout_seconds * 1000,
    visibilityGraceMs: (options.launchVisibilityGraceSeconds ?? 120) * 1000,
    prefixOf: options.instancePathPrefix ?? (() => ''),
    archiveRoot: join(options.dataDir, 'ec2-logs'),
    probeTimeoutMs: options.probeTimeoutMs ?? 30_000,
    probeConcurrency: Math.max(1, options.probeConcurrency ?? 5),
    launches: new Map(),
    active: new Set(),
    decided: new Map(),
    verdicts: finished,
    cancelled: new Set(),
    pendingTerminate: new Set(),
    lastState: new Map(),
    azOf: new Map(),
    runningSince: new Map(),
    answered: new Set(),
    synced: false,
  };
  const sessions = new SessionPool(
    ctx,
    options.tunnelFactory ?? new SsmTunnelFactory(),
    options.sshKeyPath ?? null,
  );
  const runner = localCommandRunner();
  let closed = false;

  return {
    name,
    type: 'ec2',
    maxConcurrent: Math.min(cfg.max_concurrent, ctx.maxInstances),
    renderScript: (req) => renderTaskScript(req),

    async submit(requests) {
      if (closed) throw new BackendError(`backend ${name} is closed`, { transient: false });
      if (!ctx.synced) {
        // A fresh process counts the live tagged instances before its first launch.
        try {
          resync(ctx, await describeInstances(ctx, { Filters: [backendFilter(ctx)] }));
        } catch (err) {
          const e = ctx.aws.toBackendError(err, 'DescribeInstances');
          return requests.map((r) => ({
            taskId: r.taskId,
            ok: false as const,
            transient: true,
            error: `cannot count running instances: ${e.message}`,
          }));
        }
      }
      return launchAll(ctx, requests);
    },
    status: (jobs) => ec2Status(ctx, sessions, jobs),
    findByTags: (tags) => findByTags(ctx, tags),
    cancel: (jobs) => cancelJobs(ctx, sessions, jobs),
    readLog: (request, opts) => readEc2Log(ctx, sessions, request, opts),
    async readFile(path) {
      throw new BackendError(
        `cannot read ${path}: files written inside an EC2 task container are gone with the instance (generates_source is not supported on ec2)`,
        { transient: false },
      );
    },
    async clusterInfo(): Promise<ClusterInfo> {
      const max = ctx.maxInstances;
      const busy = Math.min(max, ctx.active.size);
      return {
        cpusIdle: null,
        cpusTotal: null,
        partitions: Object.entries(cfg.instance_types)
          .sort(([a], [b]) => (a === 'default' ? -1 : b === 'default' ? 1 : a.localeCompare(b)))
          .map(([partition, type]) => ({
            name: partition,
            isDefault: partition === 'default',
            state: type,
            cpusIdle: max - busy,
            cpusTotal: max,
          })),
        facts: {
          region,
          'task slots': `${max - busy} free of ${max} (max_instances)`,
          'active instances': String(busy),
        },
      };
    },
    commandRunner: () => runner,
    health: () => ctx.aws.health(),
    activeInstances: () => [...ctx.active].filter((id) => !id.startsWith('launching:')),
    async checkAccess() {
      try {
        await ec2.send(new DescribeInstancesCommand({ DryRun: true, MaxResults: 5 }));
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
      await sessions.closeAll();
      if (!options.clients?.ec2) ec2.destroy();
      if (!options.clients?.instanceConnect) instanceConnect.destroy();
    },
  };
}
