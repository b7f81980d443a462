/**
 * A stateful fake of the Amazon ECS and CloudWatch Logs APIs the ECS backend uses, wired into real
 * SDK clients with aws-sdk-client-mock. Tasks walk PROVISIONING → PENDING → RUNNING (one step per
 * `tick()`, or at once with `autoStart`) → STOPPED (`exit`, `failToStart`, StopTask); stopped tasks stay visible `retentionMs` (about
 * an hour on real ECS), then DescribeTasks answers MISSING and ListTasks forgets them.
 *
 * Behaviours of real ECS it models (each has a test in this package):
 * - RunTask refuses, with the SDK's error names: an unknown cluster (ClusterNotFoundException), an
 *   unknown or inactive task definition, a launch type the definition is not compatible with, an
 *   awsvpc task without subnets, a Fargate cpu/memory pair that is not a Fargate size, an override
 *   of a container the definition does not have, overrides over 8192 bytes;
 * - a task's container logs (awslogs) go to `<prefix>/<container>/<task id>` in the definition's
 *   group, stdout and stderr together;
 * - StopTask of a stopped task answers the task; of an unknown one, InvalidParameterException;
 * - ListTasks filters by cluster, startedBy and desiredStatus (default RUNNING) and pages;
 * - GetLogEvents pages with forward tokens that come back unchanged at the end of a stream.
 */
import {
  CloudWatchLogsClient,
  GetLogEventsCommand,
  type GetLogEventsCommandInput,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  type Container,
  DescribeClustersCommand,
  type DescribeClustersCommandInput,
  DescribeTaskDefinitionCommand,
  type DescribeTaskDefinitionCommandInput,
  DescribeTasksCommand,
  type DescribeTasksCommandInput,
  ECSClient,
  ListTasksCommand,
  type ListTasksCommandInput,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
  RunTaskCommand,
  type RunTaskCommandInput,
  StopTaskCommand,
  type StopTaskCommandInput,
  type Task,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import { FARGATE_SIZES } from '@scripthut/aws-common';
import {
  awsServiceError as awsError,
  FakeAwsService,
  fakeLogEventsPage,
} from '@scripthut/aws-common/testing';
import { mockClient } from 'aws-sdk-client-mock';

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';
const HOUR = 3_600_000;

type Op =
  | 'RunTask'
  | 'DescribeTasks'
  | 'ListTasks'
  | 'StopTask'
  | 'RegisterTaskDefinition'
  | 'DescribeTaskDefinition'
  | 'DescribeClusters'
  | 'GetLogEvents';

export { awsServiceError as awsError } from '@scripthut/aws-common/testing';
export const throttled = () => awsError('ThrottlingException', 'Rate exceeded', 400);

interface FakeTask {
  task: Task;
  definition: TaskDefinition;
  /** The command and environment the container got (for assertions). */
  command: string[];
  environment: Record<string, string>;
  stoppedAtMs: number | null;
}

const clone = <T>(v: T): T => structuredClone(v);

export class FakeEcs extends FakeAwsService<Op> {
  now = 1_700_000_000_000;
  readonly clusters = new Set<string>(['research']);
  readonly definitions = new Map<string, TaskDefinition[]>();
  readonly tasks = new Map<string, FakeTask>();
  readonly logStreams = new Map<string, { timestamp: number; message: string }[]>();
  /** RunTask inputs, in order. */
  readonly runInputs: RunTaskCommandInput[] = [];
  /** Tasks go RUNNING (and print their `printOnStart` lines) right after RunTask answered. */
  autoStart = true;
  /** How long DescribeTasks/ListTasks still show a stopped task. */
  retentionMs = HOUR;
  /** Max events per GetLogEvents page. */
  logPageSize = 10_000;
  /** Lines a task prints when it starts, by its ScriptHut tag (the `group` of the task). */
  readonly printOnStart = new Map<string, string[]>();
  /** The next this-many RunTask calls find no room on the cluster (EC2 capacity): failures, no task. */
  capacityShortage = 0;
  private seq = 0;

  constructor() {
    super({ throttled, serverError: () => awsError('ServerException', 'Service Unavailable', 503) });
  }

  /** What the mocked clients call: the current round (with `latencyMs`), then the counted call. */
  private async run<T>(op: Op, fn: () => T): Promise<T> {
    await this.answerRound();
    return clone(this.perform(op, fn));
  }

  private clusterArn(name: string): string {
    return `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/${name}`;
  }

  private clusterOf(ref: string | undefined): string {
    const name = (ref ?? 'default').split('/').pop()!;
    if (!this.clusters.has(name)) throw awsError('ClusterNotFoundException', 'Cluster not found.', 400);
    return name;
  }

  // ---------- task definitions ----------

  registerTaskDefinition(input: RegisterTaskDefinitionCommandInput) {
    const family = input.family!;
    if (!/^[A-Za-z0-9_-]{1,255}$/.test(family))
      throw awsError('ClientException', 'Family contains invalid characters.', 400);
    const revisions = this.definitions.get(family) ?? [];
    const revision = revisions.length + 1;
    const def: TaskDefinition = {
      taskDefinitionArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/${family}:${revision}`,
      family,
      revision,
      status: 'ACTIVE',
      containerDefinitions: input.containerDefinitions,
      requiresCompatibilities: input.requiresCompatibilities,
      compatibilities: input.requiresCompatibilities,
      networkMode: input.networkMode ?? 'bridge',
      cpu: input.cpu,
      memory: input.memory,
      taskRoleArn: input.taskRoleArn,
      executionRoleArn: input.executionRoleArn,
    };
    revisions.push(def);
    this.definitions.set(family, revisions);
    return { taskDefinition: def };
  }

  lookupDefinition(ref: string): TaskDefinition | undefined {
    const name = ref.startsWith('arn:') ? ref.split('/').pop()! : ref;
    const [family, rev] = name.split(':');
    const revisions = this.definitions.get(family!) ?? [];
    if (rev !== undefined) return revisions.find((d) => d.revision === Number(rev));
    return [...revisions].reverse().find((d) => d.status === 'ACTIVE');
  }

  describeTaskDefinition(input: DescribeTaskDefinitionCommandInput) {
    const def = this.lookupDefinition(input.taskDefinition!);
    if (!def) throw awsError('ClientException', 'Unable to describe task definition.', 400);
    return { taskDefinition: def };
  }

  // ---------- tasks ----------

  private checkFargateSize(cpu: string | undefined, memory: string | undefined): void {
    const vcpu = Number(cpu) / 1024;
    const ok = FARGATE_SIZES.some((s) => s.vcpu === vcpu && s.memory.includes(Number(memory)));
    if (!ok) throw awsError('ClientException', 'No Fargate configuration exists for given values.', 400);
  }

  runTask(input: RunTaskCommandInput) {
    this.runInputs.push(input);
    const cluster = this.clusterOf(input.cluster);
    const def = this.lookupDefinition(input.taskDefinition!);
    if (def?.status !== 'ACTIVE') throw awsError('ClientException', 'TaskDefinition not found.', 400);
    const launchType = input.launchType ?? 'EC2';
    if (!def.requiresCompatibilities?.includes(launchType))
      throw awsError(
        'InvalidParameterException',
        `Task definition does not support launch_type ${launchType}.`,
        400,
      );
    if (def.networkMode === 'awsvpc' && !input.networkConfiguration?.awsvpcConfiguration?.subnets?.length)
      throw awsError(
        'InvalidParameterException',
        "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
        400,
      );
    if ((input.startedBy?.length ?? 0) > 128)
      throw awsError('InvalidParameterException', 'startedBy must be at most 128 characters.', 400);
    if (Buffer.byteLength(JSON.stringify(input.overrides ?? {})) > 8192)
      throw awsError('InvalidParameterException', 'Container Overrides length must be at most 8192', 400);
    const cpu = input.overrides?.cpu ?? def.cpu;
    const memory = input.overrides?.memory ?? def.memory;
    if (launchType === 'FARGATE') this.checkFargateSize(cpu, memory);
    const names = (def.containerDefinitions ?? []).map((c) => c.name);
    for (const o of input.overrides?.containerOverrides ?? [])
      if (!names.includes(o.name))
        throw awsError(
          'InvalidParameterException',
          `Override for container named ${o.name} is not a container in the TaskDefinition.`,
          400,
        );
    if (this.capacityShortage > 0) {
      this.capacityShortage--;
      return { tasks: [], failures: [{ reason: 'RESOURCE:MEMORY' }] };
    }
    const id = `${(++this.seq).toString(16).padStart(8, '0')}${'0'.repeat(24)}`;
    const override = input.overrides?.containerOverrides?.[0];
    const containers: Container[] = (def.containerDefinitions ?? []).map((c) => ({
      name: c.name,
      image: c.image,
      lastStatus: 'PENDING',
      containerArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:container/${cluster}/${id}/${c.name}`,
    }));
    const task: Task = {
      taskArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:task/${cluster}/${id}`,
      clusterArn: this.clusterArn(cluster),
      taskDefinitionArn: def.taskDefinitionArn,
      lastStatus: 'PROVISIONING',
      desiredStatus: 'RUNNING',
      launchType,
      startedBy: input.startedBy,
      group: input.group ?? `family:${def.family}`,
      cpu,
      memory,
      overrides: input.overrides,
      containers,
      createdAt: new Date(this.now),
      tags: input.tags,
    };
    this.tasks.set(id, {
      task,
      definition: def,
      command: override?.command ?? [],
      environment: Object.fromEntries((override?.environment ?? []).map((e) => [e.name!, e.value ?? ''])),
      stoppedAtMs: null,
    });
    const answer = clone({ tasks: [task], failures: [] });
    if (this.autoStart) this.start(this.tasks.get(id)!);
    return answer;
  }

  private visible(t: FakeTask): boolean {
    return t.stoppedAtMs === null || this.now - t.stoppedAtMs < this.retentionMs;
  }

  private start(t: FakeTask): void {
    if (t.task.lastStatus === 'RUNNING' || t.task.lastStatus === 'STOPPED') return;
    t.task.lastStatus = 'RUNNING';
    t.task.startedAt = new Date(this.now);
    for (const c of t.task.containers ?? []) c.lastStatus = 'RUNNING';
    const lines = this.printOnStart.get(t.task.group?.replace(/^scripthut:/, '') ?? '') ?? [];
    if (lines.length) this.print(t, lines);
  }

  /** The awslogs stream of a task's first container, or null without awslogs. */
  streamOf(t: FakeTask): { group: string; stream: string } | null {
    const c = t.definition.containerDefinitions?.[0];
    const lc = c?.logConfiguration;
    if (lc?.logDriver !== 'awslogs') return null;
    const group = lc.options?.['awslogs-group'];
    const prefix = lc.options?.['awslogs-stream-prefix'];
    if (!group || !prefix) return null;
    return { group, stream: `${prefix}/${c!.name}/${t.task.taskArn!.split('/').pop()}` };
  }

  /** The container of a running task prints `lines` (stdout and stderr alike). */
  print(t: FakeTask, lines: string[]): void {
    const where = this.streamOf(t);
    if (!where) return;
    const key = `${where.group}|${where.stream}`;
    const events = this.logStreams.get(key) ?? [];
    for (const message of lines) events.push({ timestamp: this.now, message });
    this.logStreams.set(key, events);
  }

  /** The task of an id or ARN. */
  get(ref: string): FakeTask | undefined {
    return this.tasks.get(ref.split('/').pop()!);
  }

  /** The task's container exits with `exitCode` (container `reason`, e.g. OutOfMemoryError, optional). */
  exit(ref: string, exitCode: number, reason?: string): void {
    const t = this.get(ref);
    if (!t) throw new Error(`no task ${ref}`);
    this.start(t);
    this.stop(t, {
      stopCode: 'EssentialContainerExited',
      stoppedReason: 'Essential container in task exited',
      exitCode,
      ...(reason ? { containerReason: reason } : {}),
    });
  }

  /** The task fails to start (e.g. the image cannot be pulled). */
  failToStart(ref: string, reason: string): void {
    const t = this.get(ref);
    if (!t) throw new Error(`no task ${ref}`);
    this.stop(t, { stopCode: 'TaskFailedToStart', stoppedReason: reason, exitCode: undefined });
  }

  private stop(
    t: FakeTask,
    o: {
      stopCode: Task['stopCode'];
      stoppedReason: string;
      exitCode: number | undefined;
      containerReason?: string;
    },
  ): void {
    if (t.task.lastStatus === 'STOPPED') return;
    t.task.lastStatus = 'STOPPED';
    t.task.desiredStatus = 'STOPPED';
    t.task.stopCode = o.stopCode;
    t.task.stoppedReason = o.stoppedReason;
    t.task.stoppedAt = new Date(this.now);
    t.task.executionStoppedAt = new Date(this.now);
    t.stoppedAtMs = this.now;
    for (const c of t.task.containers ?? []) {
      c.lastStatus = 'STOPPED';
      if (o.exitCode !== undefined) c.exitCode = o.exitCode;
      if (o.containerReason) c.reason = o.containerReason;
    }
  }

  /** ECS forgets the task at once (as if its retention had passed). */
  forget(ref: string): void {
    this.tasks.delete(ref.split('/').pop()!);
  }

  /** Moves every live task one step on. */
  tick(): void {
    for (const t of this.tasks.values()) {
      if (t.task.lastStatus === 'PROVISIONING') t.task.lastStatus = 'PENDING';
      else if (t.task.lastStatus === 'PENDING') this.start(t);
    }
  }

  advance(ms: number): void {
    this.now += ms;
  }

  describeTasks(input: DescribeTasksCommandInput) {
    const cluster = this.clusterOf(input.cluster);
    if ((input.tasks?.length ?? 0) > 100)
      throw awsError('InvalidParameterException', 'Tasks cannot have more than 100 elements', 400);
    const tasks: Task[] = [];
    const failures: { arn: string; reason: string }[] = [];
    for (const ref of input.tasks ?? []) {
      const t = this.get(ref);
      if (!t || !this.visible(t) || !t.task.clusterArn?.endsWith(`/${cluster}`)) {
        failures.push({ arn: ref, reason: 'MISSING' });
        continue;
      }
      tasks.push(t.task);
    }
    return { tasks, failures };
  }

  listTasks(input: ListTasksCommandInput) {
    const cluster = this.clusterOf(input.cluster);
    const desired = input.desiredStatus ?? 'RUNNING';
    const all = [...this.tasks.values()]
      .filter((t) => this.visible(t) && t.task.clusterArn?.endsWith(`/${cluster}`))
      .filter((t) => !input.startedBy || t.task.startedBy === input.startedBy)
      .filter((t) => t.task.desiredStatus === desired)
      .map((t) => t.task.taskArn!);
    const from = input.nextToken ? Number(input.nextToken) : 0;
    const size = Math.min(input.maxResults ?? 100, 100);
    const page = all.slice(from, from + size);
    return { taskArns: page, ...(from + size < all.length ? { nextToken: String(from + size) } : {}) };
  }

  stopTask(input: StopTaskCommandInput) {
    this.clusterOf(input.cluster);
    const t = this.get(input.task!);
    if (!t || !this.visible(t))
      throw awsError('InvalidParameterException', 'The referenced task was not found.', 400);
    this.stop(t, {
      stopCode: 'UserInitiated',
      stoppedReason: input.reason ?? 'Task stopped by user',
      exitCode: 143,
    });
    return { task: t.task };
  }

  describeClusters(input: DescribeClustersCommandInput) {
    const clusters = [];
    const failures = [];
    for (const ref of input.clusters ?? ['default']) {
      const name = ref.split('/').pop()!;
      if (!this.clusters.has(name)) {
        failures.push({ arn: this.clusterArn(name), reason: 'MISSING' });
        continue;
      }
      const live = [...this.tasks.values()].filter((t) => t.task.clusterArn?.endsWith(`/${name}`));
      clusters.push({
        clusterArn: this.clusterArn(name),
        clusterName: name,
        status: 'ACTIVE',
        runningTasksCount: live.filter((t) => t.task.lastStatus === 'RUNNING').length,
        pendingTasksCount: live.filter((t) => ['PROVISIONING', 'PENDING'].includes(t.task.lastStatus!))
          .length,
        registeredContainerInstancesCount: 0,
      });
    }
    return { clusters, failures };
  }

  // ---------- logs ----------

  getLogEvents(input: GetLogEventsCommandInput) {
    const events = this.logStreams.get(`${input.logGroupName}|${input.logStreamName}`);
    return fakeLogEventsPage(events, input, { pageSize: this.logPageSize });
  }

  /** Real SDK clients whose `send` is served by this fake. */
  install(): { ecs: ECSClient; logs: CloudWatchLogsClient } {
    const credentials = { accessKeyId: 'AKIAFAKE', secretAccessKey: 'fake' };
    const ecs = new ECSClient({ region: REGION, credentials });
    const logs = new CloudWatchLogsClient({ region: REGION, credentials });
    const e = mockClient(ecs);
    const l = mockClient(logs);
    e.on(RunTaskCommand).callsFake((i) => this.run('RunTask', () => this.runTask(i)));
    e.on(DescribeTasksCommand).callsFake((i) => this.run('DescribeTasks', () => this.describeTasks(i)));
    e.on(ListTasksCommand).callsFake((i) => this.run('ListTasks', () => this.listTasks(i)));
    e.on(StopTaskCommand).callsFake((i) => this.run('StopTask', () => this.stopTask(i)));
    e.on(RegisterTaskDefinitionCommand).callsFake((i) =>
      this.run('RegisterTaskDefinition', () => this.registerTaskDefinition(i)),
    );
    e.on(DescribeTaskDefinitionCommand).callsFake((i) =>
      this.run('DescribeTaskDefinition', () => this.describeTaskDefinition(i)),
    );
    e.on(DescribeClustersCommand).callsFake((i) =>
      this.run('DescribeClusters', () => this.describeClusters(i)),
    );
    l.on(GetLogEventsCommand).callsFake((i) => this.run('GetLogEvents', () => this.getLogEvents(i)));
    return { ecs, logs };
  }
}
