/**
 * The command of an AWS Batch array job: every child runs the same `containerOverrides` (Batch has
 * no per-child command), so the command is a dispatch on `AWS_BATCH_JOB_ARRAY_INDEX` (the shared
 * `arrayDispatch` of `@scripthut/core`) whose element `i` is the container script task `i` runs when
 * submitted alone, preceded by the exports of the variables that differ between the elements.
 * Variables every element has with the same value travel once in `containerOverrides.environment`,
 * as for a single job; secret variables always do (they are part of {@link batchArrayKey}, so the
 * elements of one array share them).
 */
import { createHash } from 'node:crypto';
import { arrayDispatch, fitsInArrayScript, type SubmitRequest, shellExport } from '@scripthut/core';
import { batchEnvAndDir, environmentOverrides, renderBatchScript } from './mapping.js';

/** The variable Batch sets to the child's index in each child of an array job. */
export const BATCH_ARRAY_INDEX_VARIABLE = 'AWS_BATCH_JOB_ARRAY_INDEX';

/**
 * What Batch sees of a request beyond the engine's own key (queue, cpus, memory, time, gpus,
 * image): its secret variables (names and a digest of their values), which must be the same in
 * every element because they travel in the shared environment, never in the command. `null` when
 * the request cannot be an element (too large, or its script cannot be built: it then fails alone
 * with its own error).
 */
export function batchArrayKey(request: SubmitRequest): string | null {
  if (!fitsInArrayScript(request)) return null;
  let env: Record<string, string>;
  try {
    renderBatchScript(request);
    env = batchEnvAndDir(request).env;
    environmentOverrides(env);
  } catch {
    return null;
  }
  const secrets = [...new Set(request.secretEnvNames ?? [])].filter((n) => n in env).sort();
  const digest = createHash('sha256');
  for (const name of secrets) digest.update(`${name}\0${env[name]}\0`);
  return JSON.stringify([secrets, secrets.length ? digest.digest('hex') : '']);
}

/** The rendered array: the dispatch script, the shared environment, each element's own script. */
export interface BatchArrayScript {
  /** The script every child runs (`bash -c`), dispatching on {@link BATCH_ARRAY_INDEX_VARIABLE}. */
  script: string;
  /** Variables with the same value in every element (`containerOverrides.environment`). */
  environment: { name: string; value: string }[];
  /** Per element: the script stored with its task (what that child runs, env values not shown). */
  elementScripts: string[];
}

/**
 * Render the array command of `requests` (element `i` = `requests[i]`). `tag` names the array in
 * the script's comments. Throws an Error naming the task when a request cannot be rendered.
 */
export function renderBatchArrayScript(requests: readonly SubmitRequest[], tag: string): BatchArrayScript {
  const k = requests.length;
  if (k < 2) throw new Error('an AWS Batch array job needs at least two elements');
  const envs = requests.map((r) => batchEnvAndDir(r).env);
  const shared: Record<string, string> = {};
  for (const [name, value] of Object.entries(envs[0]!))
    if (envs.every((e) => Object.hasOwn(e, name) && e[name] === value)) shared[name] = value;
  const secret = new Set(requests.flatMap((r) => r.secretEnvNames ?? []));
  const bodies: string[] = [];
  const elementScripts: string[] = [];
  requests.forEach((r, i) => {
    let own: string;
    try {
      own = renderBatchScript(r);
    } catch (e) {
      throw new Error(`${r.taskId}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const exports: string[] = [];
    for (const name of Object.keys(envs[i]!).sort()) {
      if (Object.hasOwn(shared, name)) continue;
      if (secret.has(name))
        throw new Error(`${r.taskId}: secret variable ${name} differs between the elements of array ${tag}`);
      exports.push(shellExport(name, envs[i]![name]!));
    }
    bodies.push(exports.length ? `${exports.join('\n')}\n${own}` : own);
    elementScripts.push(
      `# AWS Batch array ${tag} of ${k} tasks: element ${i} (${BATCH_ARRAY_INDEX_VARIABLE}=${i}) runs:\n${own}`,
    );
  });
  const script = [
    '#!/bin/bash',
    `# ScriptHut job array ${tag} (${k} tasks): element i runs the script of task i.`,
    ...arrayDispatch(BATCH_ARRAY_INDEX_VARIABLE, bodies),
  ].join('\n');
  return { script: `${script}\n`, environment: environmentOverrides(shared), elementScripts };
}
