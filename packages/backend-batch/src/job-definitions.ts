/**
 * Job definition resolution for the three modes: `locked` (configured definition verbatim),
 * `revisions` (configured definition as a template, one new revision per image, tagged as
 * ScriptHut's clone) and auto-register (`scripthut-<hash12>` per image signature), on EC2 or
 * Fargate queues.
 */
import { createHash } from 'node:crypto';
import {
  type BatchClient,
  DescribeJobDefinitionsCommand,
  type DescribeJobDefinitionsCommandInput,
  type JobDefinition,
  RegisterJobDefinitionCommand,
  type RegisterJobDefinitionCommandInput,
} from '@aws-sdk/client-batch';
import { type AwsCaller, errorText, SettledCache } from '@scripthut/aws-common';
import { BackendError } from '@scripthut/core';
import type { BatchPlatform, QueueFacts } from './queues.js';

/** Which of the three job-definition strategies is in use. */
export type JobDefinitionMode = 'locked' | 'revisions' | 'auto';

export interface JobDefinitionSettings {
  jobDefinition: string | null;
  mode: 'locked' | 'revisions';
  defaultImage: string | null;
  jobRoleArn: string | null;
  executionRoleArn: string | null;
  logGroup: string;
  region: string;
  /** Fargate definitions ScriptHut registers get a public IP (needed without a NAT gateway). */
  assignPublicIp?: boolean;
  /** The backend's name, for error messages. */
  backendName?: string;
}

/** The definition a task is submitted against. */
export interface ResolvedJobDefinition {
  jobDefinition: string;
  /** Image the job will actually run (when known). */
  image: string | null;
  mode: JobDefinitionMode;
  /** CloudWatch Logs group of the job's container (the definition's awslogs group, else `log_group`). */
  logGroup: string;
  /** The definition's own `schedulingPriority` (fair-share queues), when it has one. */
  schedulingPriority: number | null;
}

export interface ResolverLogger {
  warn(message: string, fields?: Record<string, unknown>): void;
  info?(message: string, fields?: Record<string, unknown>): void;
}

/** Top-level fields copied from a template into each new revision (revisions mode). */
export const TEMPLATE_PASSTHROUGH_FIELDS = [
  'type',
  'parameters',
  'schedulingPriority',
  'retryStrategy',
  'propagateTags',
  'timeout',
  'tags',
  'platformCapabilities',
  'nodeProperties',
  'eksProperties',
  'ecsProperties',
] as const;

/**
 * Tag of the revisions ScriptHut registers in `revisions` mode: `<name>:<revision>` of the template
 * it cloned. Tagged revisions are never taken for the template (after a restart the latest ACTIVE
 * revision is often a clone) and are reused for the same image.
 */
export const CLONE_TAG = 'scripthut:clone-of';

const CROSS_ACCOUNT = /cross-account pass role is not allowed/i;

/** The remedy the specification gives for the cross-account PassRole failure. */
export function crossAccountRemedy(mode: JobDefinitionMode): string {
  const roles =
    mode === 'revisions'
      ? 'the role ARNs in the job definition template'
      : 'job_role_arn / execution_role_arn';
  return (
    `RegisterJobDefinition was denied: Cross-account pass role is not allowed. ${roles} live in a different AWS ` +
    'account than the credentials ScriptHut uses. Fix either: use role ARNs from the account your credentials ' +
    'belong to; or switch to same-account credentials; or (simpler) set `job_definition:` to an existing job ' +
    'definition with `job_definition_mode: locked` — SubmitJob does not re-check iam:PassRole, so an existing ' +
    'definition can reference roles from any account. Compare `aws sts get-caller-identity --query Account ' +
    '--output text` with the account ID in the role ARNs.'
  );
}

/** `scripthut-<sha1[:12]>` of the image signature (image, roles, log group; platform on Fargate). */
export function autoDefinitionName(
  image: string,
  s: Pick<JobDefinitionSettings, 'jobRoleArn' | 'executionRoleArn' | 'logGroup' | 'assignPublicIp'>,
  platform: BatchPlatform = 'EC2',
): string {
  const parts: unknown[] = [image, s.jobRoleArn ?? '', s.executionRoleArn ?? '', s.logGroup];
  // EC2 signatures are unchanged from earlier versions, so their definitions are still reused.
  if (platform === 'FARGATE') parts.push('FARGATE', s.assignPublicIp ? 'public-ip' : 'private');
  return `scripthut-${createHash('sha1').update(JSON.stringify(parts)).digest('hex').slice(0, 12)}`;
}

/** The awslogs group a definition sends its container logs to, if it says. */
export function definitionLogGroup(def: JobDefinition): string | null {
  const lc = def.containerProperties?.logConfiguration;
  return lc?.logDriver === 'awslogs' ? (lc.options?.['awslogs-group'] ?? null) : null;
}

function platformsOf(def: JobDefinition): string[] {
  return def.platformCapabilities?.length ? def.platformCapabilities : ['EC2'];
}

/** The configured definition in locked/revisions mode, and the clones ScriptHut made of it. */
interface Template {
  def: JobDefinition;
  /** `<name>:<revision>` of the template (the value of {@link CLONE_TAG} on its clones). */
  ref: string;
  /** image → ARN of the latest ACTIVE clone of this template revision with that image. */
  clones: Map<string, string>;
}

/** Resolves the job definition for each task image, caching registrations in process. */
export class JobDefinitionResolver {
  readonly mode: JobDefinitionMode;
  private readonly warnedImages = new Set<string>();
  /** Registered definitions by platform and image (revisions and auto modes). */
  private readonly byImage = new SettledCache<string, string>();
  private readonly templateCache = new SettledCache<'template', Template | null>();

  constructor(
    private readonly batch: BatchClient,
    private readonly aws: AwsCaller,
    private readonly settings: JobDefinitionSettings,
    private readonly logger: ResolverLogger,
  ) {
    this.mode = settings.jobDefinition ? settings.mode : 'auto';
  }

  /** Definition (and image) for a task whose own image is `taskImage`, submitted to `queue`. */
  async resolve(taskImage: string | null, queue: QueueFacts): Promise<ResolvedJobDefinition> {
    if (this.mode === 'locked') return this.resolveLocked(taskImage, queue);
    if (this.mode === 'revisions') return this.resolveRevision(taskImage, queue);
    return this.resolveAuto(taskImage, queue);
  }

  /** A BackendError for a job-definition call (permanent for 4xx; the cross-account remedy). */
  private error(err: unknown, label: string): BackendError {
    if (err instanceof BackendError) return err;
    if (CROSS_ACCOUNT.test(errorText(err))) {
      return new BackendError(crossAccountRemedy(this.mode), {
        transient: false,
        cause: err,
        command: label,
        output: errorText(err),
      });
    }
    return this.aws.toBackendError(err, label);
  }

  private checkPlatform(def: JobDefinition, queue: QueueFacts): void {
    if (!queue.described || platformsOf(def).includes(queue.platform)) return;
    throw new BackendError(
      `job definition ${this.settings.jobDefinition} is for ${platformsOf(def).join('/')} but job queue ${queue.name} runs on ${queue.platform}: ` +
        `use a job definition with platformCapabilities ${queue.platform}, or a queue of that platform`,
      { transient: false },
    );
  }

  private resolved(def: JobDefinition, jobDefinition: string, image: string | null): ResolvedJobDefinition {
    return {
      jobDefinition,
      image,
      mode: this.mode,
      logGroup: definitionLogGroup(def) ?? this.settings.logGroup,
      schedulingPriority: def.schedulingPriority ?? null,
    };
  }

  private async resolveLocked(taskImage: string | null, queue: QueueFacts): Promise<ResolvedJobDefinition> {
    const jobDefinition = this.settings.jobDefinition!;
    const template = await this.fetchTemplate();
    if (!template) {
      // Not readable (no batch:DescribeJobDefinitions): submit verbatim, unchecked.
      return {
        jobDefinition,
        image: null,
        mode: 'locked',
        logGroup: this.settings.logGroup,
        schedulingPriority: null,
      };
    }
    this.checkPlatform(template.def, queue);
    const registered = template.def.containerProperties?.image ?? null;
    if (taskImage && registered && registered !== taskImage && !this.warnedImages.has(taskImage)) {
      this.warnedImages.add(taskImage);
      this.logger.warn(
        `task image ${taskImage} differs from the image ${registered} registered in job definition ${jobDefinition}; ` +
          'job_definition_mode is locked, so the registered image is used (set job_definition_mode: revisions for per-task images)',
        { taskImage, registeredImage: registered, jobDefinition },
      );
    }
    return this.resolved(template.def, jobDefinition, registered);
  }

  /**
   * The configured definition (latest ACTIVE revision that is not a ScriptHut clone for a bare
   * name, else the exact revision/ARN), read once. Null in locked mode when it may not be read.
   */
  private fetchTemplate(): Promise<Template | null> {
    return this.templateCache.get('template', () => this.describeTemplate(this.settings.jobDefinition!));
  }

  private async listDefinitions(input: DescribeJobDefinitionsCommandInput): Promise<JobDefinition[]> {
    const found: JobDefinition[] = [];
    let nextToken: string | undefined;
    do {
      const out = await this.aws.call('DescribeJobDefinitions', () =>
        this.batch.send(new DescribeJobDefinitionsCommand({ ...input, nextToken })),
      );
      found.push(...(out.jobDefinitions ?? []));
      nextToken = out.nextToken;
    } while (nextToken);
    return found;
  }

  private async describeTemplate(ref: string): Promise<Template | null> {
    const exact = ref.startsWith('arn:') || ref.includes(':');
    let best: JobDefinition | undefined;
    let family: JobDefinition[] = [];
    try {
      if (exact) {
        best = (await this.listDefinitions({ jobDefinitions: [ref] }))[0];
        if (best && this.mode === 'revisions' && best.jobDefinitionName)
          family = await this.listDefinitions({
            jobDefinitionName: best.jobDefinitionName,
            status: 'ACTIVE',
          });
      } else {
        family = await this.listDefinitions({ jobDefinitionName: ref, status: 'ACTIVE' });
        best = family
          .filter((d) => (d.status ?? 'ACTIVE') === 'ACTIVE' && !d.tags?.[CLONE_TAG])
          .sort((a, b) => (b.revision ?? 0) - (a.revision ?? 0))[0];
      }
    } catch (err) {
      const e = this.error(err, `DescribeJobDefinitions ${ref}`);
      if (this.mode === 'locked' && !e.transient) {
        this.logger.warn(
          `cannot read job definition ${ref}; task images, its platform and log group are not checked`,
          { error: errorText(err) },
        );
        return null;
      }
      throw e;
    }
    if (!best) {
      throw new BackendError(
        exact ? `job definition ${ref} not found` : `job definition ${ref} has no ACTIVE revision`,
        { transient: false, command: `DescribeJobDefinitions ${ref}` },
      );
    }
    const templateRef = `${best.jobDefinitionName}:${best.revision}`;
    const clones = new Map<string, string>();
    for (const d of family.sort((a, b) => (a.revision ?? 0) - (b.revision ?? 0))) {
      const image = d.containerProperties?.image;
      if (
        d.tags?.[CLONE_TAG] === templateRef &&
        image &&
        d.jobDefinitionArn &&
        (d.status ?? 'ACTIVE') === 'ACTIVE'
      )
        clones.set(image, d.jobDefinitionArn);
    }
    return { def: best, ref: templateRef, clones };
  }

  private async resolveRevision(taskImage: string | null, queue: QueueFacts): Promise<ResolvedJobDefinition> {
    const template = (await this.fetchTemplate())!;
    const def = template.def;
    this.checkPlatform(def, queue);
    const templateImage = def.containerProperties?.image ?? null;
    // default_image is only a fallback for templates that carry no image of their own.
    const image = taskImage ?? templateImage ?? this.settings.defaultImage;
    const templateArn = def.jobDefinitionArn ?? this.settings.jobDefinition!;
    if (!image || image === templateImage) return this.resolved(def, templateArn, templateImage);
    if (!def.containerProperties) {
      throw new BackendError(
        `job definition ${this.settings.jobDefinition} has no containerProperties to clone; use job_definition_mode: locked`,
        { transient: false },
      );
    }
    const existing = template.clones.get(image);
    const arn =
      existing ??
      (await this.byImage.get(`revision|${image}`, async () => {
        const input: RegisterJobDefinitionCommandInput = {
          jobDefinitionName: def.jobDefinitionName,
          type: (def.type as RegisterJobDefinitionCommandInput['type']) ?? 'container',
          containerProperties: { ...def.containerProperties, image },
        };
        const target = input as unknown as Record<string, unknown>;
        for (const field of TEMPLATE_PASSTHROUGH_FIELDS) {
          if (field === 'type') continue;
          const value = (def as unknown as Record<string, unknown>)[field];
          if (value !== undefined && value !== null) target[field] = value;
        }
        input.tags = { ...(def.tags ?? {}), [CLONE_TAG]: template.ref };
        const out = await this.register(input);
        this.logger.info?.(`registered job definition revision ${out} for image ${image}`, { image });
        return out;
      }));
    return this.resolved(def, arn, image);
  }

  private async resolveAuto(taskImage: string | null, queue: QueueFacts): Promise<ResolvedJobDefinition> {
    const image = taskImage ?? this.settings.defaultImage;
    if (!image) {
      throw new BackendError("no container image: set the task's `image` or the backend's `default_image`", {
        transient: false,
      });
    }
    const s = this.settings;
    const fargate = queue.platform === 'FARGATE';
    if (fargate && !s.executionRoleArn) {
      throw new BackendError(
        `job queue ${queue.name} runs on Fargate, where jobs need an execution role to pull the image and write logs: ` +
          `set execution_role_arn on backend ${s.backendName ?? ''}`.trimEnd(),
        { transient: false },
      );
    }
    const name = autoDefinitionName(image, s, queue.platform);
    const arn = await this.byImage.get(`${queue.platform}|${image}`, async () => {
      // Reuse a definition registered by an earlier process with the same signature.
      try {
        const found = await this.listDefinitions({ jobDefinitionName: name, status: 'ACTIVE' });
        const existing = found
          .filter((d) => d.containerProperties?.image === image && d.jobDefinitionArn)
          .sort((a, b) => (b.revision ?? 0) - (a.revision ?? 0))[0];
        if (existing?.jobDefinitionArn) return existing.jobDefinitionArn;
      } catch (err) {
        const e = this.error(err, `DescribeJobDefinitions ${name}`);
        if (e.transient) throw e;
        // No permission to describe: registering is still possible.
      }
      return this.register({
        jobDefinitionName: name,
        type: 'container',
        ...(fargate ? { platformCapabilities: ['FARGATE'] } : {}),
        containerProperties: {
          image,
          command: ['bash', '-c', 'echo "ScriptHut placeholder: the command is set at submit time"'],
          resourceRequirements: fargate
            ? [
                { type: 'VCPU', value: '0.25' },
                { type: 'MEMORY', value: '512' },
              ]
            : [
                { type: 'VCPU', value: '1' },
                { type: 'MEMORY', value: '512' },
              ],
          ...(s.jobRoleArn ? { jobRoleArn: s.jobRoleArn } : {}),
          ...(s.executionRoleArn ? { executionRoleArn: s.executionRoleArn } : {}),
          ...(fargate
            ? {
                networkConfiguration: { assignPublicIp: s.assignPublicIp ? 'ENABLED' : 'DISABLED' },
                fargatePlatformConfiguration: { platformVersion: 'LATEST' },
              }
            : {}),
          logConfiguration: {
            logDriver: 'awslogs',
            options: { 'awslogs-group': s.logGroup, 'awslogs-region': s.region },
          },
        },
        propagateTags: true,
      });
    });
    return { jobDefinition: arn, image, mode: 'auto', logGroup: s.logGroup, schedulingPriority: null };
  }

  private async register(input: RegisterJobDefinitionCommandInput): Promise<string> {
    try {
      const out = await this.aws.call('RegisterJobDefinition', () =>
        this.batch.send(new RegisterJobDefinitionCommand(input)),
      );
      if (!out.jobDefinitionArn) throw new Error('RegisterJobDefinition returned no jobDefinitionArn');
      return out.jobDefinitionArn;
    } catch (err) {
      throw this.error(err, `RegisterJobDefinition ${input.jobDefinitionName}`);
    }
  }
}
