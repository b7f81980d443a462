/**
 * {@link CliApi} over the server's typed Hono RPC client. Used for both modes: the client's fetch
 * goes over HTTP to a server, or straight into an in-process app.
 */
import type { TaskRecord } from '@scripthut/core';
import { type ScriptHutClient, unwrap } from '@scripthut/server/client';
import type { CliApi } from './api.js';

const opt = <K extends string, V>(key: K, value: V | undefined | null): Partial<Record<K, V>> =>
  value === undefined || value === null ? {} : ({ [key]: value } as Record<K, V>);

/** Page size when reading every task of a run. */
const TASK_PAGE = 1000;

/**
 * Wrap the typed client.
 *
 * @example
 * ```ts
 * const api = createClientApi(createClient('http://127.0.0.1:8000', { token }));
 * const { items } = await api.listRuns({ limit: 5 });
 * ```
 */
export function createClientApi(client: ScriptHutClient): CliApi {
  const c = client;
  return {
    health: () => unwrap(c.health.$get()),
    listBackends: async () => (await unwrap(c.backends.$get())).items,
    getBackend: (name) => unwrap(c.backends[':name'].$get({ param: { name } })),

    listWorkflows: async () => (await unwrap(c.workflows.$get())).items,
    dryRunWorkflow: (name, options = {}) =>
      unwrap(c.workflows[':name']['dry-run'].$post({ param: { name }, json: options })),
    runWorkflow: (name, options = {}) =>
      unwrap(c.workflows[':name'].run.$post({ param: { name }, json: options })),

    listSources: async () => (await unwrap(c.sources.$get())).items,
    syncSource: (name) => unwrap(c.sources[':name'].sync.$post({ param: { name } })),
    runSourceWorkflow: (source, file, options = {}) =>
      unwrap(c.sources[':name'].run.$post({ param: { name: source }, json: { ...options, file } })),

    listProjects: async () => (await unwrap(c.projects.$get())).items,
    listProjectWorkflows: async (project) =>
      (await unwrap(c.projects[':name'].workflows.$get({ param: { name: project } }))).items,
    runProjectWorkflow: (project, file, options = {}) =>
      unwrap(c.projects[':name'].run.$post({ param: { name: project }, json: { ...options, file } })),

    runAdhocTask: (input) => unwrap(c.tasks.run.$post({ json: input })),

    listRuns: async (query = {}) => {
      const res = await unwrap(
        c.runs.$get({
          query: {
            ...opt('limit', query.limit?.toString()),
            ...opt('offset', query.offset?.toString()),
            ...opt('status', query.status),
            ...opt('workflow', query.workflow),
            ...opt('backend', query.backend),
          },
        }),
      );
      return { items: res.items, total: res.total };
    },
    getRun: async (runId) => {
      const { tasks: _tasks, ...summary } = await unwrap(
        c.runs[':id'].$get({ param: { id: runId }, query: { taskLimit: '0' } }),
      );
      return summary;
    },
    listTasks: async (runId, query = {}) => {
      const fetchPage = (limit: number, offset: number) =>
        unwrap(
          c.runs[':id'].tasks.$get({
            param: { id: runId },
            query: {
              limit: String(limit),
              offset: String(offset),
              ...opt('state', query.states?.join(',')),
              ...opt('prefix', query.idPrefix),
            },
          }),
        );
      if (query.limit !== undefined) {
        const page = await fetchPage(Math.min(query.limit, TASK_PAGE), query.offset ?? 0);
        return { items: page.items, total: page.total };
      }
      const items: TaskRecord[] = [];
      let offset = query.offset ?? 0;
      for (;;) {
        const page = await fetchPage(TASK_PAGE, offset);
        items.push(...page.items);
        offset += page.items.length;
        if (page.items.length === 0 || offset >= page.total) return { items, total: page.total };
      }
    },
    getTask: (runId, taskId) => unwrap(c.runs[':id'].tasks[':taskId'].$get({ param: { id: runId, taskId } })),
    taskTransitions: async (runId, taskId) =>
      (await unwrap(c.runs[':id'].tasks[':taskId'].transitions.$get({ param: { id: runId, taskId } }))).items,
    cancelRun: (runId) => unwrap(c.runs[':id'].cancel.$post({ param: { id: runId } })),
    rerunRun: (runId, mode) => unwrap(c.runs[':id'].rerun.$post({ param: { id: runId }, json: { mode } })),
    readTaskLog: async (runId, taskId, stream, options = {}) => {
      const {
        runId: _r,
        taskId: _t,
        stream: _s,
        ...chunk
      } = await unwrap(
        c.runs[':id'].tasks[':taskId'].log.$get({
          param: { id: runId, taskId },
          query: {
            stream,
            ...opt('offset', options.offset?.toString()),
            ...opt('tail', options.offset === undefined ? options.tailBytes?.toString() : undefined),
            ...opt('maxBytes', options.maxBytes?.toString()),
          },
        }),
      );
      return chunk;
    },

    listJobs: async (query = {}) =>
      (
        await unwrap(
          c.jobs.$get({
            query: {
              ...opt('mine', query.mine === undefined ? undefined : String(query.mine)),
              ...opt('backend', query.backend),
              ...opt('recentHours', query.recentHours?.toString()),
            },
          }),
        )
      ).items,

    runCost: (runId) => unwrap(c.runs[':id'].cost.$get({ param: { id: runId } })),
    estimateWorkflow: (kind, name, options = {}) =>
      unwrap(c.estimate.$post({ json: { kind, name, ...opt('backend', options.backend) } })),

    validateConfigText: async (text) => {
      const { issues, warnings } = await unwrap(c.config.validate.$post({ json: { text } }));
      return { issues, warnings };
    },
    reloadConfig: () => unwrap(c.config.reload.$post()),
  };
}
