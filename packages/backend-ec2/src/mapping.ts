/**
 * How a ScriptHut task maps onto one EC2 instance: instance type, tags, the task script (environment
 * delivered by `docker run -e`, names listed in a comment) and the user-data that runs it.
 */

import { renderContainerScript } from '@scripthut/aws-common';
import type { SubmitRequest, TaskSpec } from '@scripthut/core';
import { isValidEnvName, shellQuote } from '@scripthut/core';

/** Directory of the sentinel (`done`) and of the task script on the instance. */
export const RUN_DIR = '/var/run/scripthut';
/** Directory of the task log on the instance. */
export const LOG_DIR = '/var/log/scripthut';
/** The exit-code sentinel, written last (atomically) by the user-data. */
export const SENTINEL_PATH = `${RUN_DIR}/done`;
/** Why the user-data gave up before running the task (e.g. no docker), next to the sentinel. */
export const REASON_PATH = `${RUN_DIR}/reason`;
/** The task's combined stdout+stderr on the instance. */
export const TASK_LOG_PATH = `${LOG_DIR}/task.log`;
/** Where the task script is mounted (read-only) inside the container. */
export const CONTAINER_SCRIPT_PATH = '/scripthut-task.sh';
/** The task partition that means "no partition". */
export const DEFAULT_PARTITION = 'normal';
/** Fallback instance type when `instance_types` has neither the partition nor `default`. */
export const FALLBACK_INSTANCE_TYPE = 'c5.xlarge';

/**
 * The instance type of a task: `instance_types[partition]`, else `instance_types.default`, else the
 * alphabetically first entry, else `c5.xlarge`.
 */
export function instanceTypeFor(partition: string | null | undefined, types: Record<string, string>): string {
  const p = partition?.trim();
  if (p && types[p]) return types[p];
  if (types.default) return types.default;
  const first = Object.keys(types).sort()[0];
  return first ? types[first]! : FALLBACK_INSTANCE_TYPE;
}

function clip(value: string, max: number): string {
  return value.length <= max ? value : value.slice(0, max);
}

/** Tag keys used by the backend for a given prefix. */
export function tagKeys(prefix: string): { backend: string; runId: string; taskId: string; tag: string } {
  return {
    backend: `${prefix}:backend`,
    runId: `${prefix}:run-id`,
    taskId: `${prefix}:task-id`,
    tag: `${prefix}:tag`,
  };
}

/**
 * Tags of a task instance: `extra_tags` first, then ScriptHut's own (which win on conflicts):
 * `<prefix>:backend`, `<prefix>:run-id`, `<prefix>:task-id`, `<prefix>:tag`, `Name`. Values are
 * clipped to EC2's 256 characters.
 */
export function instanceTags(o: {
  prefix: string;
  backendName: string;
  runId: string;
  taskId: string;
  tag: string;
  extraTags?: Record<string, string>;
}): { Key: string; Value: string }[] {
  const keys = tagKeys(o.prefix);
  const tags = new Map<string, string>();
  for (const [k, v] of Object.entries(o.extraTags ?? {})) tags.set(k, v);
  tags.set(keys.backend, o.backendName);
  tags.set(keys.runId, o.runId);
  tags.set(keys.taskId, o.taskId);
  tags.set(keys.tag, o.tag);
  tags.set('Name', `scripthut-${o.taskId}`);
  return [...tags].map(([Key, Value]) => ({ Key, Value: clip(Value, 256) }));
}

export { containerEnvAndDir } from '@scripthut/aws-common';

/** The task script run in the container: banner, env NAMES in a comment, extra_init, git, cd, command. */
export const renderTaskScript: (request: SubmitRequest) => string = renderContainerScript;

/** True when the task asks for GPUs (`gres: gpu...`). */
export function wantsGpu(task: Pick<TaskSpec, 'gres'>): boolean {
  return !!task.gres && task.gres.split(',').some((p) => p.trim().split(':')[0] === 'gpu');
}

/** A private ECR registry and its region, parsed from an image reference. */
export interface EcrRegistry {
  registry: string;
  region: string;
}

const ECR_IMAGE = /^(\d{12}\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?)\//;

/**
 * The private ECR registry of an image (`<account>.dkr.ecr.<region>.amazonaws.com/...`), or null.
 * The docker CLI does not use the instance role by itself: such images need a `docker login` with
 * `aws ecr get-login-password` first.
 */
export function ecrRegistryOf(image: string): EcrRegistry | null {
  const m = ECR_IMAGE.exec(image);
  return m ? { registry: m[1]!, region: m[2]! } : null;
}

/** Everything the user-data needs. */
export interface UserDataOptions {
  runId: string;
  taskId: string;
  image: string;
  /** The task script (from {@link renderTaskScript}). */
  script: string;
  /** Environment injected with `docker run -e NAME=value`. */
  env: Record<string, string>;
  /** Hard limit of `docker run` (safety layer 2). */
  timeLimitSeconds: number;
  /** Slack past the time limit before the instance shuts itself down (safety layer 1). */
  idleTerminateSeconds: number;
  /** Adds `--gpus all`. */
  gpu?: boolean;
}

/** `timeout` seconds of a task: its time limit, at least 1 s. */
export function effectiveTimeLimit(seconds: number): number {
  return Number.isFinite(seconds) && seconds >= 1 ? Math.floor(seconds) : 1;
}

/**
 * The user-data script of a task instance. Paths live in `SCRIPTHUT_RUN_DIR` / `SCRIPTHUT_LOG_DIR`
 * (one line each) so that they can be relocated. It never enables `set -x` (which would copy the
 * secret environment values into the EC2 console output).
 *
 * 1. arms the safety shutdown after `time_limit + idle_terminate_seconds`;
 * 2. writes the task script (base64, never interpreted by the shell);
 * 3. makes sure docker runs: installs it when the AMI has none (`dnf`, `yum` or `apt-get`: the stock
 *    Amazon Linux 2023 AMI has docker only in its package repository) and starts the daemon; gives
 *    up with exit code 127 and a reason when that fails;
 * 4. logs in to a private ECR registry with the instance role (`aws ecr get-login-password`);
 * 5. pulls the image and runs `timeout <time_limit>s docker run --rm -v script:ro -e ... image bash`,
 *    teeing the output to `task.log`;
 * 6. writes the exit code to the sentinel `done`, last and atomically.
 */
export function renderUserData(o: UserDataOptions): string {
  const names = Object.keys(o.env).sort();
  const bad = names.filter((n) => !isValidEnvName(n));
  if (bad.length)
    throw new Error(`invalid environment variable name(s): ${bad.map((n) => JSON.stringify(n)).join(', ')}`);
  const limit = effectiveTimeLimit(o.timeLimitSeconds);
  const safety = limit + Math.max(0, Math.floor(o.idleTerminateSeconds));
  const b64 = (
    Buffer.from(o.script, 'utf8')
      .toString('base64')
      .match(/.{1,76}/g) ?? []
  ).join('\n');
  const envArgs = names.map((n) => `  -e ${shellQuote(`${n}=${o.env[n]!}`)} \\`);
  const ecr = ecrRegistryOf(o.image);
  const lines = [
    '#!/bin/bash',
    // JSON.stringify escapes newlines: a comment must stay on one line.
    `# ScriptHut task instance: run ${JSON.stringify(o.runId)}, task ${JSON.stringify(o.taskId)}.`,
    '# No `set -x` here: tracing would copy secret environment values into the console output.',
    'set -uo pipefail',
    `SCRIPTHUT_RUN_DIR=${RUN_DIR}`,
    `SCRIPTHUT_LOG_DIR=${LOG_DIR}`,
    `SCRIPTHUT_SAFETY_SECONDS=${safety}`,
    'mkdir -p "$SCRIPTHUT_RUN_DIR" "$SCRIPTHUT_LOG_DIR"',
    '# Safety layer 1: the instance shuts itself down (and, with InstanceInitiatedShutdownBehavior=terminate,',
    '# is deleted) after time_limit + idle_terminate_seconds, whatever happens to ScriptHut.',
    '( sleep "$SCRIPTHUT_SAFETY_SECONDS"; shutdown -h now ) </dev/null >/dev/null 2>&1 &',
    'disown || true',
    'SCRIPTHUT_TASK_SCRIPT="$SCRIPTHUT_RUN_DIR/task.sh"',
    'SCRIPTHUT_LOG="$SCRIPTHUT_LOG_DIR/task.log"',
    '# Gives up before the task runs: the reason for ScriptHut, the exit code in the sentinel.',
    'scripthut_give_up() {',
    '  echo "ScriptHut: $2" >> "$SCRIPTHUT_LOG"',
    '  echo "$2" > "$SCRIPTHUT_RUN_DIR/reason"',
    '  echo "$1" > "$SCRIPTHUT_RUN_DIR/done.tmp" && mv -f "$SCRIPTHUT_RUN_DIR/done.tmp" "$SCRIPTHUT_RUN_DIR/done"',
    '  exit "$1"',
    '}',
    `base64 -d > "$SCRIPTHUT_TASK_SCRIPT" <<'SCRIPTHUT_B64'`,
    b64,
    'SCRIPTHUT_B64',
    'chmod 0644 "$SCRIPTHUT_TASK_SCRIPT"',
    '# Docker: the stock Amazon Linux 2023 AMI has it in its repository only; install and start it.',
    'if ! command -v docker >/dev/null 2>&1; then',
    `  echo 'ScriptHut: docker is not installed on this AMI: installing it' >> "$SCRIPTHUT_LOG"`,
    '  if command -v dnf >/dev/null 2>&1; then dnf -y install docker',
    '  elif command -v yum >/dev/null 2>&1; then yum -y install docker',
    '  elif command -v apt-get >/dev/null 2>&1; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y docker.io',
    '  fi >> "$SCRIPTHUT_LOG" 2>&1',
    '  command -v docker >/dev/null 2>&1 \\',
    `    || scripthut_give_up 127 'docker is not installed on the AMI and could not be installed (dnf/yum/apt-get): use an AMI with docker, e.g. the ECS-optimized Amazon Linux 2023 AMI'`,
    'fi',
    'if ! docker info >/dev/null 2>&1; then',
    '  systemctl start docker >> "$SCRIPTHUT_LOG" 2>&1',
    '  docker info >/dev/null 2>&1 \\',
    `    || scripthut_give_up 127 'the docker daemon does not run and could not be started (systemctl start docker)'`,
    'fi',
    ...(ecr
      ? [
          '# Private ECR: docker does not use the instance role by itself.',
          `echo ${shellQuote(`ScriptHut: docker login to ${ecr.registry}`)} >> "$SCRIPTHUT_LOG"`,
          `aws ecr get-login-password --region ${shellQuote(ecr.region)} | docker login --username AWS --password-stdin ${shellQuote(ecr.registry)} >> "$SCRIPTHUT_LOG" 2>&1 \\`,
          `  || echo ${shellQuote(`ScriptHut: docker login to ${ecr.registry} failed (needs the aws CLI on the AMI and ecr:GetAuthorizationToken in the instance profile)`)} >> "$SCRIPTHUT_LOG"`,
        ]
      : []),
    `echo ${shellQuote(`ScriptHut: pulling ${o.image}`)} >> "$SCRIPTHUT_LOG"`,
    `docker pull ${shellQuote(o.image)} >> "$SCRIPTHUT_LOG" 2>&1 || echo 'ScriptHut: docker pull failed, trying a local copy of the image' >> "$SCRIPTHUT_LOG"`,
    '# Safety layer 2: hard time limit on the container.',
    `timeout --kill-after=30 ${limit}s docker run --rm \\`,
    ...(o.gpu ? ['  --gpus all \\'] : []),
    `  -v "$SCRIPTHUT_TASK_SCRIPT":${CONTAINER_SCRIPT_PATH}:ro \\`,
    ...envArgs,
    `  ${shellQuote(o.image)} bash ${CONTAINER_SCRIPT_PATH} 2>&1 | tee -a "$SCRIPTHUT_LOG"`,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: bash array expansion
    'SCRIPTHUT_EXIT=${PIPESTATUS[0]}',
    '# The sentinel, written last and atomically.',
    'echo "$SCRIPTHUT_EXIT" > "$SCRIPTHUT_RUN_DIR/done.tmp" && mv -f "$SCRIPTHUT_RUN_DIR/done.tmp" "$SCRIPTHUT_RUN_DIR/done"',
    '',
  ];
  return lines.join('\n');
}
