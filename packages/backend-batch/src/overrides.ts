/**
 * The size of `containerOverrides`. Batch accepts a SubmitJob whatever its overrides weigh, then
 * hands them to ECS when the job is placed, and ECS refuses a task whose container overrides are
 * over 8192 characters: the job goes FAILED ("Container Overrides length must be at most 8192")
 * long after the submission succeeded. So the backend measures the overrides before submitting,
 * compresses the script when they are too big, and fails the task at once when even that does not
 * fit.
 */
import type { ContainerOverrides, KeyValuePair, ResourceRequirement } from '@aws-sdk/client-batch';
import { compressedCommand } from '@scripthut/aws-common';

export { compressedCommand };

/** ECS's limit on the JSON of a task's container overrides. */
export const ECS_CONTAINER_OVERRIDES_LIMIT = 8192;
/**
 * Room left for what Batch adds to the overrides before ECS sees them: the container name and the
 * AWS_BATCH_JOB_ID, AWS_BATCH_JOB_ATTEMPT, AWS_BATCH_JQ_NAME and AWS_BATCH_CE_NAME variables (queue
 * and compute environment names may be 128 characters each). An estimate: Batch does not document it.
 */
export const BATCH_ADDED_OVERRIDES_RESERVE = 1024;
/** What the backend allows the JSON of `containerOverrides` to weigh (bytes). */
export const CONTAINER_OVERRIDES_BUDGET = ECS_CONTAINER_OVERRIDES_LIMIT - BATCH_ADDED_OVERRIDES_RESERVE;

/** The size AWS counts: the UTF-8 bytes of the JSON of the overrides (never less than characters). */
export function containerOverridesSize(overrides: ContainerOverrides): number {
  return Buffer.byteLength(JSON.stringify(overrides), 'utf8');
}

/** The overrides of a job, and whether the script had to be compressed to fit. */
export interface BuiltOverrides {
  overrides: ContainerOverrides;
  compressed: boolean;
  /** {@link containerOverridesSize} of `overrides`. */
  size: number;
}

/**
 * The `containerOverrides` of a task: `bash -c <script>` when it fits in
 * {@link CONTAINER_OVERRIDES_BUDGET}, else the compressed script. Throws an Error naming the task,
 * the budget and the largest environment variables when even compressed it does not fit.
 */
export function buildContainerOverrides(o: {
  taskId: string;
  script: string;
  environment: KeyValuePair[];
  resourceRequirements: ResourceRequirement[];
}): BuiltOverrides {
  const make = (command: string[]): ContainerOverrides => ({
    command,
    resourceRequirements: o.resourceRequirements,
    environment: o.environment,
  });
  const plain = make(['bash', '-c', o.script]);
  const plainSize = containerOverridesSize(plain);
  if (plainSize <= CONTAINER_OVERRIDES_BUDGET)
    return { overrides: plain, compressed: false, size: plainSize };
  const packed = make(compressedCommand(o.script));
  const packedSize = containerOverridesSize(packed);
  if (packedSize <= CONTAINER_OVERRIDES_BUDGET)
    return { overrides: packed, compressed: true, size: packedSize };

  const envBytes = containerOverridesSize({ environment: o.environment });
  const scriptBytes = packedSize - containerOverridesSize(make([]));
  const largest = [...o.environment]
    .map((e) => ({ name: e.name ?? '', bytes: Buffer.byteLength(JSON.stringify(e)) }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 3)
    .map((e) => `${e.name} (${e.bytes} bytes)`)
    .join(', ');
  throw new Error(
    `task "${o.taskId}": the AWS Batch container overrides would be ${packedSize} bytes even with the script compressed, ` +
      `over the ${CONTAINER_OVERRIDES_BUDGET} bytes ScriptHut allows (ECS refuses more than ${ECS_CONTAINER_OVERRIDES_LIMIT} once Batch adds its own variables, ` +
      `and the job would fail after submission): the environment takes ${envBytes} bytes${largest ? ` (largest: ${largest})` : ''}, ` +
      `the compressed script ${scriptBytes}. Shorten the command or the environment, or pass large values through a file or S3.`,
  );
}
