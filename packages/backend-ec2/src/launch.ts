/**
 * Launching one task instance: the user-data (gzipped above 16 KB, refused when it still does not
 * fit), the RunInstances request (AMI, subnet, security groups, instance profile, IMDSv2 with a hop
 * limit of 2 so that containers on the docker bridge get the instance role's credentials, tags,
 * terminate on shutdown, the submit tag as idempotency token) and the `max_instances` slots.
 */
import { gzipSync } from 'node:zlib';
import { RunInstancesCommand, type RunInstancesCommandInput } from '@aws-sdk/client-ec2';
import { errorText, isAmbiguous, isTransientKind } from '@scripthut/aws-common';
import type { SubmitOutcome, SubmitRequest } from '@scripthut/core';
import type { Ec2Context } from './context.js';
import { mapLimited } from './limited.js';
import {
  containerEnvAndDir,
  instanceTags,
  instanceTypeFor,
  renderTaskScript,
  renderUserData,
  wantsGpu,
} from './mapping.js';

/** EC2's limit on user-data (before base64). */
export const MAX_USER_DATA = 16 * 1024;

/**
 * IMDSv2 only, reachable from containers: the token's PUT answer must survive one more network hop
 * (the docker bridge) than the default of 1, or the AWS SDKs and CLI in the container find no
 * credentials.
 */
export const METADATA_OPTIONS = {
  HttpTokens: 'required',
  HttpEndpoint: 'enabled',
  HttpPutResponseHopLimit: 2,
} as const satisfies RunInstancesCommandInput['MetadataOptions'];

/**
 * Launches in flight at once. Every task needs its own RunInstances (its own user-data): a few at a
 * time keep a large submission from waiting for one launch after the other, while staying within
 * EC2's request-rate bucket of RunInstances (a throttled launch is retried by the caller anyway).
 */
export const LAUNCH_CONCURRENCY = 5;

/** Launches one instance per request, {@link LAUNCH_CONCURRENCY} at a time; outcomes in request order. */
export function launchAll(ctx: Ec2Context, requests: readonly SubmitRequest[]): Promise<SubmitOutcome[]> {
  return mapLimited(requests, LAUNCH_CONCURRENCY, (r) => launchOne(ctx, r));
}

/**
 * Launches one task instance (never throws: failures are outcomes). Everything up to taking the
 * `max_instances` slot is synchronous, so concurrent launches never exceed `max_instances`.
 */
export async function launchOne(ctx: Ec2Context, req: SubmitRequest): Promise<SubmitOutcome> {
  const cfg = ctx.cfg;
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
  if (ctx.active.size >= ctx.maxInstances) {
    return {
      taskId: req.taskId,
      ok: false,
      transient: true,
      script,
      error: `max_instances (${ctx.maxInstances}) reached: waiting for a free instance slot`,
    };
  }
  const instanceType = instanceTypeFor(req.task.partition, cfg.instance_types);
  const tags = instanceTags({
    prefix: cfg.tag_prefix,
    backendName: ctx.name,
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
    MetadataOptions: { ...METADATA_OPTIONS },
  };
  const placeholder = `launching:${req.tag}`;
  ctx.active.add(placeholder);
  try {
    const out = await ctx.aws.call('RunInstances', () => ctx.ec2.send(new RunInstancesCommand(input)));
    const id = out.Instances?.[0]?.InstanceId;
    if (!id) throw new Error('RunInstances returned no instance');
    ctx.launches.set(id, { runId: req.runId, taskId: req.taskId, tag: req.tag, launchedAt: ctx.now() });
    ctx.active.add(id);
    const az = out.Instances?.[0]?.Placement?.AvailabilityZone;
    if (az) ctx.azOf.set(id, az);
    return {
      taskId: req.taskId,
      ok: true,
      jobId: id,
      script,
      meta: { instanceType, image, region: ctx.region, userDataBytes: payload.length },
    };
  } catch (err) {
    const kind = ctx.aws.classify(err);
    return {
      taskId: req.taskId,
      ok: false,
      transient: isTransientKind(kind),
      script,
      error: `RunInstances (${instanceType}) failed: ${errorText(err)}`,
      // No answer: the instance may exist; the engine looks its tag up before launching again.
      ...(isAmbiguous(kind) ? { maybeSubmitted: true } : {}),
    };
  } finally {
    ctx.active.delete(placeholder);
  }
}
