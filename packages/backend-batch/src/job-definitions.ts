/**
 * Job definition resolution for the three modes: `locked` (configured definition verbatim),
 * `revisions` (configured definition as a template, one new revision per image) and auto-register
 * (`scripthut-<hash12>` per image signature).
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
import { classifyAwsError } from '@scripthut/aws-common';
import { BackendError } from '@scripthut/core';

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
}

/** The definition a task is submitted against. */
export interface ResolvedJobDefinition {
  jobDefinition: string;
  /** Image the job will actually run (when known). */
  image: string | null;
  mode: JobDefinitionMode;
}

/** Calls an AWS operation with retry/backoff (provided by the backend). */
export type AwsCall = <T>(label: string, fn: () => Promise<T>) => Promise<T>;

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

function errorText(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/** Turn an SDK error from a job-definition call into a BackendError (permanent for 4xx). */
export function jobDefinitionError(err: unknown, label: string, mode: JobDefinitionMode): BackendError {
  if (err instanceof BackendError) return err;
  const text = errorText(err);
  if (CROSS_ACCOUNT.test(text)) {
    return new BackendError(crossAccountRemedy(mode), {
      transient: false,
      cause: err,
      command: label,
      output: text,
    });
  }
  const kind = classifyAwsError(err);
  return new BackendError(`${label} failed: ${text}`, {
    transient: kind !== 'client',
    cause: err,
    command: label,
    output: text,
  });
}

/** `scripthut-<sha1[:12]>` of the image signature (image, job role, execution role, log group). */
export function autoDefinitionName(
  image: string,
  s: Pick<JobDefinitionSettings, 'jobRoleArn' | 'executionRoleArn' | 'logGroup'>,
): string {
  const signature = JSON.stringify([image, s.jobRoleArn ?? '', s.executionRoleArn ?? '', s.logGroup]);
  return `scripthut-${createHash('sha1').update(signature).digest('hex').slice(0, 12)}`;
}

/** Resolves the job definition for each task image, caching registrations in process. */
export class JobDefinitionResolver {
  readonly mode: JobDefinitionMode;
  private template: Promise<JobDefinition> | null = null;
  private lockedImage: Promise<string | null> | null = null;
  private readonly warnedImages = new Set<string>();
  private readonly byImage = new Map<string, Promise<string>>();

  constructor(
    private readonly batch: BatchClient,
    private readonly call: AwsCall,
    private readonly settings: JobDefinitionSettings,
    private readonly logger: ResolverLogger,
  ) {
    this.mode = settings.jobDefinition ? settings.mode : 'auto';
  }

  /** Definition (and image) for a task whose own image is `taskImage`. */
  async resolve(taskImage: string | null): Promise<ResolvedJobDefinition> {
    if (this.mode === 'locked') return this.resolveLocked(taskImage);
    if (this.mode === 'revisions') return this.resolveRevision(taskImage);
    return this.resolveAuto(taskImage);
  }

  private async resolveLocked(taskImage: string | null): Promise<ResolvedJobDefinition> {
    const jobDefinition = this.settings.jobDefinition!;
    if (!taskImage) return { jobDefinition, image: null, mode: 'locked' };
    if (!this.lockedImage) {
      this.lockedImage = this.fetchTemplate().then(
        (t) => t.containerProperties?.image ?? null,
        (err) => {
          this.logger.warn(
            `cannot read the image of job definition ${jobDefinition}; task images are not checked`,
            {
              error: errorText(err),
            },
          );
          return null;
        },
      );
    }
    const registered = await this.lockedImage;
    if (registered && registered !== taskImage && !this.warnedImages.has(taskImage)) {
      this.warnedImages.add(taskImage);
      this.logger.warn(
        `task image ${taskImage} differs from the image ${registered} registered in job definition ${jobDefinition}; ` +
          'job_definition_mode is locked, so the registered image is used (set job_definition_mode: revisions for per-task images)',
        { taskImage, registeredImage: registered, jobDefinition },
      );
    }
    return { jobDefinition, image: registered ?? null, mode: 'locked' };
  }

  /** The configured definition: latest ACTIVE revision for a bare name, else the exact revision/ARN. */
  private fetchTemplate(): Promise<JobDefinition> {
    if (!this.template) {
      const ref = this.settings.jobDefinition!;
      const p = this.describeTemplate(ref);
      this.template = p;
      p.catch(() => {
        if (this.template === p) this.template = null;
      });
    }
    return this.template;
  }

  private async describeTemplate(ref: string): Promise<JobDefinition> {
    const exact = ref.startsWith('arn:') || ref.includes(':');
    const found: JobDefinition[] = [];
    let nextToken: string | undefined;
    try {
      do {
        const input: DescribeJobDefinitionsCommandInput = exact
          ? { jobDefinitions: [ref], nextToken }
          : { jobDefinitionName: ref, status: 'ACTIVE', nextToken };
        const out = await this.call('DescribeJobDefinitions', () =>
          this.batch.send(new DescribeJobDefinitionsCommand(input)),
        );
        found.push(...(out.jobDefinitions ?? []));
        nextToken = out.nextToken;
      } while (nextToken);
    } catch (err) {
      throw jobDefinitionError(err, `DescribeJobDefinitions ${ref}`, this.mode);
    }
    const active = exact ? found : found.filter((d) => (d.status ?? 'ACTIVE') === 'ACTIVE');
    const best = active.sort((a, b) => (b.revision ?? 0) - (a.revision ?? 0))[0];
    if (!best) {
      throw new BackendError(
        exact ? `job definition ${ref} not found` : `job definition ${ref} has no ACTIVE revision`,
        { transient: false, command: `DescribeJobDefinitions ${ref}` },
      );
    }
    return best;
  }

  private async resolveRevision(taskImage: string | null): Promise<ResolvedJobDefinition> {
    const template = await this.fetchTemplate();
    const templateImage = template.containerProperties?.image ?? null;
    // default_image is only a fallback for templates that carry no image of their own.
    const image = taskImage ?? templateImage ?? this.settings.defaultImage;
    const templateArn = template.jobDefinitionArn ?? this.settings.jobDefinition!;
    if (!image || image === templateImage)
      return { jobDefinition: templateArn, image: templateImage, mode: 'revisions' };
    if (!template.containerProperties) {
      throw new BackendError(
        `job definition ${this.settings.jobDefinition} has no containerProperties to clone; use job_definition_mode: locked`,
        { transient: false },
      );
    }
    const arn = this.cached(image, async () => {
      const input: RegisterJobDefinitionCommandInput = {
        jobDefinitionName: template.jobDefinitionName,
        type: (template.type as RegisterJobDefinitionCommandInput['type']) ?? 'container',
        containerProperties: { ...template.containerProperties, image },
      };
      const target = input as unknown as Record<string, unknown>;
      for (const field of TEMPLATE_PASSTHROUGH_FIELDS) {
        if (field === 'type') continue;
        const value = (template as unknown as Record<string, unknown>)[field];
        if (value !== undefined && value !== null) target[field] = value;
      }
      const out = await this.register(input);
      this.logger.info?.(`registered job definition revision ${out} for image ${image}`, { image });
      return out;
    });
    return { jobDefinition: await arn, image, mode: 'revisions' };
  }

  private async resolveAuto(taskImage: string | null): Promise<ResolvedJobDefinition> {
    const image = taskImage ?? this.settings.defaultImage;
    if (!image) {
      throw new BackendError("no container image: set the task's `image` or the backend's `default_image`", {
        transient: false,
      });
    }
    const name = autoDefinitionName(image, this.settings);
    const arn = this.cached(image, async () => {
      // Reuse a definition registered by an earlier process with the same signature.
      try {
        const out = await this.call('DescribeJobDefinitions', () =>
          this.batch.send(new DescribeJobDefinitionsCommand({ jobDefinitionName: name, status: 'ACTIVE' })),
        );
        const existing = (out.jobDefinitions ?? [])
          .filter((d) => d.containerProperties?.image === image && d.jobDefinitionArn)
          .sort((a, b) => (b.revision ?? 0) - (a.revision ?? 0))[0];
        if (existing?.jobDefinitionArn) return existing.jobDefinitionArn;
      } catch (err) {
        const e = jobDefinitionError(err, `DescribeJobDefinitions ${name}`, 'auto');
        if (e.transient) throw e;
        // No permission to describe: registering is still possible.
      }
      const s = this.settings;
      return this.register({
        jobDefinitionName: name,
        type: 'container',
        containerProperties: {
          image,
          command: ['bash', '-c', 'echo "ScriptHut placeholder: the command is set at submit time"'],
          resourceRequirements: [
            { type: 'VCPU', value: '1' },
            { type: 'MEMORY', value: '512' },
          ],
          ...(s.jobRoleArn ? { jobRoleArn: s.jobRoleArn } : {}),
          ...(s.executionRoleArn ? { executionRoleArn: s.executionRoleArn } : {}),
          logConfiguration: {
            logDriver: 'awslogs',
            options: { 'awslogs-group': s.logGroup, 'awslogs-region': s.region },
          },
        },
        propagateTags: true,
      });
    });
    return { jobDefinition: await arn, image, mode: 'auto' };
  }

  private cached(image: string, make: () => Promise<string>): Promise<string> {
    let p = this.byImage.get(image);
    if (!p) {
      const created = make();
      p = created;
      this.byImage.set(image, created);
      created.catch(() => {
        if (this.byImage.get(image) === created) this.byImage.delete(image);
      });
    }
    return p;
  }

  private async register(input: RegisterJobDefinitionCommandInput): Promise<string> {
    try {
      const out = await this.call('RegisterJobDefinition', () =>
        this.batch.send(new RegisterJobDefinitionCommand(input)),
      );
      if (!out.jobDefinitionArn) throw new Error('RegisterJobDefinition returned no jobDefinitionArn');
      return out.jobDefinitionArn;
    } catch (err) {
      throw jobDefinitionError(err, `RegisterJobDefinition ${input.jobDefinitionName}`, this.mode);
    }
  }
}
