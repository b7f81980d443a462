/** What the parts of the EC2 backend share: configuration, clients, the AWS caller and state. */
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { EC2InstanceConnectClient } from '@aws-sdk/client-ec2-instance-connect';
import type { AwsBackendLogger, AwsCaller, FinishedJobStore } from '@scripthut/aws-common';
import type { JobState } from '@scripthut/core';
import type { tagKeys } from './mapping.js';
import type { Ec2BackendConfig } from './plugin.js';

/** Structured logger; every method optional. Messages never contain env values. */
export type Ec2Logger = AwsBackendLogger;

/** A launch made by this process. */
export interface Launch {
  runId: string;
  taskId: string;
  tag: string;
  launchedAt: number;
}

/** The final result of a task instance, recorded once (the instance is deleted afterwards). */
export interface Verdict {
  instanceId: string;
  state: JobState;
  exitCode: number | null;
  reason: string | null;
  finishedAt: string;
}

/** Shared by the backend's modules. */
export interface Ec2Context {
  name: string;
  cfg: Ec2BackendConfig;
  region: string;
  profile: string | null;
  ec2: EC2Client;
  instanceConnect: EC2InstanceConnectClient;
  aws: AwsCaller;
  log: Ec2Logger;
  now: () => number;
  keys: ReturnType<typeof tagKeys>;
  maxInstances: number;
  /** `startup_timeout_seconds` in ms: pending → running, and running → first answered probe. */
  startupTimeoutMs: number;
  /** How long a fresh launch may be missing from DescribeInstances / unknown to TerminateInstances. */
  visibilityGraceMs: number;
  /** Test seam: directory prepended to the instance paths. */
  prefixOf: (instanceId: string) => string;
  /** `<dataDir>/ec2-logs`: archived task logs. */
  archiveRoot: string;
  probeTimeoutMs: number;
  probeConcurrency: number;

  launches: Map<string, Launch>;
  /** Instances (and `launching:<tag>` placeholders) that occupy a `max_instances` slot. */
  active: Set<string>;
  /** Verdicts known in this process, by instance id. */
  decided: Map<string, Verdict>;
  /** Verdicts on disk (`<dataDir>/ec2-jobs/<run>.jsonl`), for later processes. */
  verdicts: FinishedJobStore<Verdict>;
  /** Instances terminated on cancel (their end is `cancelled`, not `node_fail`). */
  cancelled: Set<string>;
  /** Instances whose TerminateInstances has not gone through yet (retried on every poll). */
  pendingTerminate: Set<string>;
  lastState: Map<string, string>;
  azOf: Map<string, string>;
  /** When this process first saw an instance `running` (startup timeout of the first probe). */
  runningSince: Map<string, number>;
  /** Instances that answered a probe at least once. */
  answered: Set<string>;
  /** True once the live instances were counted (before the first launch of a process). */
  synced: boolean;
}
