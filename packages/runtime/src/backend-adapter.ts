/**
 * The backend as the engine sees it, with `partition_map` and env rules applied at submission to
 * the tasks that did not get them when their run was created: tasks added by a generates_source
 * document (the engine parses those) and runs created while no rule applied. Such a task gets the
 * backend's and the server's rules of the current configuration; the document and task layers do
 * not exist for it (the parser refuses env rules in generated documents). A task whose run
 * environment was made from rules (`scripthut:<hash>`) is left alone; mapping a partition twice is
 * harmless (the config refuses chains).
 */
import type { BackendConfig } from '@scripthut/config';
import type { Backend, SubmitRequest } from '@scripthut/core';
import { resolveEnvRules } from './env-rules.js';
import {
  baseLayers,
  mapPartition,
  partitionMapOf,
  RULES_ENVIRONMENT_PREFIX,
  renderRules,
  rulesExtraInit,
  type ServerEnvRules,
} from './task-env.js';

/**
 * `request` with the backend's partition and, unless its environment came from env rules, the
 * backend and server rules applied: their variables under the task's own (which win), their
 * `init` before the task's named environment's extra_init, their exports after both.
 */
export function adaptSubmitRequest(
  request: SubmitRequest,
  backend: BackendConfig,
  server: ServerEnvRules,
): SubmitRequest {
  const partition = mapPartition(request.task.partition, partitionMapOf(backend));
  const task = partition === request.task.partition ? request.task : { ...request.task, partition };
  if (request.task.environment?.startsWith(RULES_ENVIRONMENT_PREFIX))
    return task === request.task ? request : { ...request, task };
  const layers = baseLayers(backend, server);
  if (layers.every((l) => l.rules.length === 0))
    return task === request.task ? request : { ...request, task };
  const seed: Record<string, string> = { SCRIPTHUT_BACKEND: backend.name };
  for (const [k, v] of Object.entries(request.env)) if (k.startsWith('SCRIPTHUT_')) seed[k] = v;
  const resolved = resolveEnvRules(layers, seed);
  const own = new Set(Object.keys(request.env));
  const rendered = renderRules(resolved, (name) => !own.has(name));
  return {
    ...request,
    task,
    env: { ...rendered.variables, ...request.env },
    extraInit: rulesExtraInit(rendered, [request.extraInit]),
  };
}

/**
 * Wraps `backend` so that `submit` and `renderScript` see {@link adaptSubmitRequest}'s requests.
 * Everything else is the backend's own (methods bound to it).
 *
 * @param server - the current server-level rules (read at every submission: they reload live).
 */
export function adaptBackend(backend: Backend, config: BackendConfig, server: () => ServerEnvRules): Backend {
  const adapt = (r: SubmitRequest) => adaptSubmitRequest(r, config, server());
  return new Proxy(backend, {
    get(target, prop) {
      if (prop === 'submit') return (requests: SubmitRequest[]) => target.submit(requests.map(adapt));
      if (prop === 'renderScript') return (request: SubmitRequest) => target.renderScript(adapt(request));
      if (prop === 'arrays') {
        // Array elements get the same partition_map and env rules as tasks submitted alone.
        const arrays = target.arrays;
        return (
          arrays && {
            maxSize: () => arrays.maxSize(),
            key: (request: SubmitRequest) => arrays.key(adapt(request)),
            submitArray: (requests: SubmitRequest[], options: { throttle: number | null }) =>
              arrays.submitArray(requests.map(adapt), options),
            elementJobId: (arrayJobId: string, index: number) => arrays.elementJobId(arrayJobId, index),
          }
        );
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
