/**
 * Which task definition a task runs: the configured `task_definition` verbatim (its container and
 * log configuration read once), or — with `default_image` — a definition ScriptHut registers per
 * image (reused when an active revision with the same settings exists).
 */
import { createHash } from 'node:crypto';
import {
  type ContainerDefinition,
  DescribeTaskDefinitionCommand,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import { BackendError, type SubmitRequest } from '@scripthut/core';
import type { EcsContext, LogTarget } from './context.js';

/** Name of the container in the task definitions ScriptHut registers. */
export const REGISTERED_CONTAINER = 'scripthut';
/** `awslogs-stream-prefix` of the task definitions ScriptHut registers. */
export const REGISTERED_STREAM_PREFIX = 'scripthut';

/** The task definition of a request. */
export interface ResolvedDefinition {
  /** ARN (family:revision) passed to RunTask. */
  arn: string;
  containerName: string;
  logs: LogTarget | null;
}

function logsOf(container: ContainerDefinition | undefined): LogTarget | null {
  const lc = container?.logConfiguration;
  if (lc?.logDriver !== 'awslogs') return null;
  const group = lc.options?.['awslogs-group'];
  const prefix = lc.options?.['awslogs-stream-prefix'];
  return group && prefix ? { group, prefix } : null;
}

/** Family of the definition ScriptHut registers for `image`: one per backend, image and settings. */
export function registeredFamily(backendName: string, fingerprint: string): string {
  const safe = backendName.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 180);
  return `scripthut-${safe}-${createHash('sha256').update(fingerprint).digest('hex').slice(0, 10)}`;
}

/** Resolves and registers task definitions; concurrent requests for one image share one call. */
export class TaskDefinitions {
  private readonly resolved = new Map<string, Promise<ResolvedDefinition>>();

  constructor(private readonly ctx: EcsContext) {}

  /**
   * The definition of `request`.
   *
   * @throws BackendError — permanent when the request cannot run on this backend (another image
   *   than a fixed task definition's, an unknown definition), transient when AWS could not answer.
   */
  async forRequest(request: SubmitRequest): Promise<ResolvedDefinition> {
    const { cfg } = this.ctx;
    if (cfg.task_definition) {
      const def = await this.once(`fixed:${cfg.task_definition}`, () => this.describeFixed());
      if (request.task.image && request.task.image !== def.image)
        throw new BackendError(
          `task "${request.task.id}" asks for image ${request.task.image}, but ECS cannot change the image of task definition ${cfg.task_definition} (${def.image ?? 'unknown image'}); use default_image instead of task_definition to run several images`,
          { transient: false },
        );
      return def.resolved;
    }
    const image = request.task.image ?? cfg.default_image;
    if (!image)
      throw new BackendError(`task "${request.task.id}" has no image and the backend no default_image`, {
        transient: false,
      });
    return (await this.once(`image:${image}`, async () => ({ resolved: await this.registered(image) })))
      .resolved;
  }

  private async once<T extends { resolved: ResolvedDefinition }>(
    key: string,
    fn: () => Promise<T>,
  ): Promise<T> {
    const cached = this.resolved.get(key) as Promise<T> | undefined;
    if (cached) return cached;
    const p = fn();
    // A failure is not cached: the next request asks again.
    p.catch(() => this.resolved.delete(key));
    this.resolved.set(key, p as unknown as Promise<ResolvedDefinition>);
    return p;
  }

  private async describe(ref: string): Promise<TaskDefinition | null> {
    const { aws, ecs } = this.ctx;
    try {
      const res = await aws.call('DescribeTaskDefinition', () =>
        ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: ref })),
      );
      return res.taskDefinition ?? null;
    } catch (err) {
      if (aws.classify(err) === 'client') return null;
      throw aws.toBackendError(err, `DescribeTaskDefinition ${ref}`);
    }
  }

  private async describeFixed(): Promise<{ resolved: ResolvedDefinition; image: string | null }> {
    const { cfg } = this.ctx;
    const ref = cfg.task_definition!;
    const def = await this.describe(ref);
    if (!def?.taskDefinitionArn)
      throw new BackendError(`task definition ${ref} does not exist (or cannot be described)`, {
        transient: false,
      });
    const containers = def.containerDefinitions ?? [];
    const container = cfg.container_name
      ? containers.find((c) => c.name === cfg.container_name)
      : (containers.find((c) => c.essential !== false) ?? containers[0]);
    if (!container?.name)
      throw new BackendError(
        cfg.container_name
          ? `task definition ${ref} has no container "${cfg.container_name}" (it has: ${containers.map((c) => c.name).join(', ') || 'none'})`
          : `task definition ${ref} has no container`,
        { transient: false },
      );
    return {
      resolved: { arn: def.taskDefinitionArn, containerName: container.name, logs: logsOf(container) },
      image: container.image ?? null,
    };
  }

  /** The input of the definition registered for `image`. */
  registrationInput(image: string): RegisterTaskDefinitionCommandInput {
    const { cfg, name } = this.ctx;
    const fargate = cfg.launch_type === 'FARGATE';
    const awsvpc = fargate || cfg.subnets.length > 0;
    const settings = {
      image,
      launch: cfg.launch_type,
      awsvpc,
      task: cfg.task_role_arn,
      exec: cfg.execution_role_arn,
      logs: cfg.log_group,
    };
    return {
      family: registeredFamily(name, JSON.stringify(settings)),
      requiresCompatibilities: [cfg.launch_type],
      networkMode: awsvpc ? 'awsvpc' : 'bridge',
      // Fargate wants task-level sizes; each RunTask overrides them with the task's own.
      ...(fargate ? { cpu: '256', memory: '512' } : {}),
      ...(cfg.task_role_arn ? { taskRoleArn: cfg.task_role_arn } : {}),
      ...(cfg.execution_role_arn ? { executionRoleArn: cfg.execution_role_arn } : {}),
      containerDefinitions: [
        {
          name: REGISTERED_CONTAINER,
          image,
          essential: true,
          ...(fargate ? {} : { memoryReservation: 128 }),
          logConfiguration: {
            logDriver: 'awslogs',
            options: {
              'awslogs-group': cfg.log_group,
              'awslogs-region': cfg.aws.region,
              'awslogs-stream-prefix': REGISTERED_STREAM_PREFIX,
              'awslogs-create-group': 'true',
            },
          },
        },
      ],
      tags: [{ key: 'scripthut:backend', value: name }],
    };
  }

  private async registered(image: string): Promise<ResolvedDefinition> {
    const { aws, ecs } = this.ctx;
    const input = this.registrationInput(image);
    const family = input.family!;
    const logs = { group: this.ctx.cfg.log_group, prefix: REGISTERED_STREAM_PREFIX };
    const existing = await this.describe(family);
    if (
      existing?.taskDefinitionArn &&
      existing.status === 'ACTIVE' &&
      existing.containerDefinitions?.[0]?.image === image
    )
      return { arn: existing.taskDefinitionArn, containerName: REGISTERED_CONTAINER, logs };
    try {
      const res = await aws.call('RegisterTaskDefinition', () =>
        ecs.send(new RegisterTaskDefinitionCommand(input)),
      );
      const arn = res.taskDefinition?.taskDefinitionArn;
      if (!arn) throw new Error('RegisterTaskDefinition answered without a task definition');
      this.ctx.log.info?.(`registered task definition ${arn} for image ${image}`, { family });
      return { arn, containerName: REGISTERED_CONTAINER, logs };
    } catch (err) {
      throw aws.toBackendError(err, `RegisterTaskDefinition ${family}`);
    }
  }
}
