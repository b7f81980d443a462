/**
 * The OpenAPI 3.1 document of `/api/v1`, generated from the same zod schemas that validate requests
 * (`z.toJSONSchema`). {@link API_ROUTES} lists every route; a test checks it against the app's router.
 */
import { z } from 'zod';
import {
  adhocTaskBody,
  estimateBody,
  fileRunBody,
  jobsQuery,
  logFollowQuery,
  loginLinkBody,
  logQuery,
  nameParams,
  outputFileQuery,
  rerunBody,
  runDetailQuery,
  runOptionsBody,
  runParams,
  runsQuery,
  saveConfigBody,
  taskParams,
  tasksQuery,
  validateConfigBody,
} from './schemas.js';

export interface RouteDoc {
  method: 'get' | 'post' | 'delete';
  /** Hono-style path (`:id`). */
  path: string;
  summary: string;
  tag: string;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Success status. */
  status?: number;
  sse?: boolean;
}

export const API_ROUTES: RouteDoc[] = [
  { method: 'get', path: '/health', summary: 'Server and backend health', tag: 'system' },
  { method: 'get', path: '/openapi.json', summary: 'This OpenAPI document', tag: 'system' },
  {
    method: 'post',
    path: '/auth/login-link',
    summary:
      'A one-time browser sign-in URL (`…?login=<code>`, valid once for 10 minutes). Bearer token only (not a session cookie).',
    tag: 'system',
    body: loginLinkBody,
  },
  {
    method: 'get',
    path: '/backends',
    summary: 'Backends with status, last poll and cluster info',
    tag: 'backends',
  },
  {
    method: 'get',
    path: '/backends/:name',
    summary: 'One backend with its recent remote commands',
    tag: 'backends',
    params: nameParams,
  },
  {
    method: 'get',
    path: '/jobs',
    summary: 'Unified jobs: tasks of all runs plus external jobs',
    tag: 'jobs',
    query: jobsQuery,
  },
  {
    method: 'get',
    path: '/jobs/events',
    summary: 'SSE: `jobs` events with the jobs table and backends',
    tag: 'jobs',
    query: jobsQuery,
    sse: true,
  },
  {
    method: 'get',
    path: '/workflows',
    summary: 'Everything runnable: configured workflows (and source/project workflows)',
    tag: 'workflows',
  },
  {
    method: 'post',
    path: '/workflows/:name/dry-run',
    summary: 'Dry run: every generated script, no submission',
    tag: 'workflows',
    params: nameParams,
    body: runOptionsBody,
  },
  {
    method: 'post',
    path: '/workflows/:name/run',
    summary: 'Start a run of a configured workflow',
    tag: 'workflows',
    params: nameParams,
    body: runOptionsBody,
    status: 201,
  },
  {
    method: 'get',
    path: '/sources',
    summary: 'Workflow sources with sync status and discovered workflows',
    tag: 'sources',
  },
  {
    method: 'post',
    path: '/sources/:name/sync',
    summary: 'Sync (clone/pull) a source',
    tag: 'sources',
    params: nameParams,
  },
  {
    method: 'post',
    path: '/sources/:name/dry-run',
    summary: 'Dry run a workflow file of a source',
    tag: 'sources',
    params: nameParams,
    body: fileRunBody,
  },
  {
    method: 'post',
    path: '/sources/:name/run',
    summary: 'Run a workflow file of a source',
    tag: 'sources',
    params: nameParams,
    body: fileRunBody,
    status: 201,
  },
  { method: 'get', path: '/projects', summary: 'Configured projects', tag: 'projects' },
  {
    method: 'get',
    path: '/projects/:name/workflows',
    summary: 'Workflow files discovered in a project',
    tag: 'projects',
    params: nameParams,
  },
  {
    method: 'post',
    path: '/projects/:name/dry-run',
    summary: 'Dry run a project workflow',
    tag: 'projects',
    params: nameParams,
    body: fileRunBody,
  },
  {
    method: 'post',
    path: '/projects/:name/run',
    summary: 'Run a project workflow',
    tag: 'projects',
    params: nameParams,
    body: fileRunBody,
    status: 201,
  },
  {
    method: 'post',
    path: '/tasks/run',
    summary: 'Run one ad-hoc task as a new run',
    tag: 'runs',
    body: adhocTaskBody,
    status: 201,
  },
  {
    method: 'post',
    path: '/estimate',
    summary: "Cost estimate (upper bound) of a workflow (runs the workflow's generator)",
    tag: 'cost',
    body: estimateBody,
  },
  {
    method: 'get',
    path: '/runs',
    summary: 'Runs, newest first, paged and filtered',
    tag: 'runs',
    query: runsQuery,
  },
  {
    method: 'get',
    path: '/runs/events',
    summary: 'SSE: `runs` events with the first page of runs',
    tag: 'runs',
    query: runsQuery,
    sse: true,
  },
  {
    method: 'get',
    path: '/runs/:id',
    summary: 'Run detail with a page of tasks',
    tag: 'runs',
    params: runParams,
    query: runDetailQuery,
  },
  {
    method: 'get',
    path: '/runs/:id/tasks',
    summary: 'Tasks of a run, paged, filtered by state and id prefix',
    tag: 'runs',
    params: runParams,
    query: tasksQuery,
  },
  {
    method: 'get',
    path: '/runs/:id/groups',
    summary: 'Task counts per dot-prefix group',
    tag: 'runs',
    params: runParams,
  },
  { method: 'get', path: '/runs/:id/cost', summary: 'Cost of a run', tag: 'cost', params: runParams },
  {
    method: 'get',
    path: '/runs/:id/events',
    summary: 'SSE: `run` (summary), `tasks` (changed tasks), `deleted`',
    tag: 'runs',
    params: runParams,
    sse: true,
  },
  { method: 'post', path: '/runs/:id/cancel', summary: 'Cancel a run', tag: 'runs', params: runParams },
  {
    method: 'post',
    path: '/runs/:id/rerun',
    summary:
      'Rerun: as a new run (`all`, `failed`, `resume`), new from the generator (`new`), or in place, same run id (`in-place-all`, `in-place-failed`; 200, `conflict` while the run is active)',
    tag: 'runs',
    params: runParams,
    body: rerunBody,
    status: 201,
  },
  { method: 'delete', path: '/runs/:id', summary: 'Delete a finished run', tag: 'runs', params: runParams },
  { method: 'get', path: '/runs/:id/tasks/:taskId', summary: 'One task', tag: 'tasks', params: taskParams },
  {
    method: 'get',
    path: '/runs/:id/tasks/:taskId/script',
    summary: 'The generated job script (secrets redacted)',
    tag: 'tasks',
    params: taskParams,
  },
  {
    method: 'get',
    path: '/runs/:id/tasks/:taskId/transitions',
    summary: 'State history of a task',
    tag: 'tasks',
    params: taskParams,
  },
  {
    method: 'get',
    path: '/runs/:id/activity',
    summary:
      'Tasks queued (submitted, queued) and running over the run: a step series of at most ~300 points (each bucket keeps its highest counts) and the exact peaks',
    tag: 'runs',
    params: runParams,
  },
  {
    method: 'get',
    path: '/runs/:id/summary',
    summary: "Run summary: the tasks' SCRIPTHUT_RUN_SUMMARY fragments in task order",
    tag: 'runs',
    params: runParams,
  },
  {
    method: 'get',
    path: '/runs/:id/tasks/:taskId/outputs',
    summary:
      'Recorded outputs of a task (files under SCRIPTHUT_OUTPUT_DIR, task summary), or why there are none',
    tag: 'tasks',
    params: taskParams,
  },
  {
    method: 'get',
    path: '/runs/:id/tasks/:taskId/outputs/file',
    summary:
      'One recorded output file (only paths the listing recorded; raster images inline, anything else as an attachment)',
    tag: 'tasks',
    params: taskParams,
    query: outputFileQuery,
  },
  {
    method: 'get',
    path: '/notifications/stats',
    summary: 'Live counts of the active runs (running, waiting, completed, failed tasks)',
    tag: 'system',
  },
  {
    method: 'get',
    path: '/notifications/events',
    summary: 'SSE: `notification` (a run finished, a task failed) and `stats` events',
    tag: 'system',
    sse: true,
  },
  {
    method: 'get',
    path: '/runs/:id/tasks/:taskId/log',
    summary: 'Log tail, or a chunk from a byte offset',
    tag: 'tasks',
    params: taskParams,
    query: logQuery,
  },
  {
    method: 'get',
    path: '/runs/:id/tasks/:taskId/log/follow',
    summary: 'SSE: follow a log (`chunk`, `end`, `error`)',
    tag: 'tasks',
    params: taskParams,
    query: logFollowQuery,
    sse: true,
  },
  { method: 'get', path: '/config', summary: 'Loaded config, secrets redacted', tag: 'config' },
  {
    method: 'post',
    path: '/config/validate',
    summary: 'Validate config YAML text without applying it',
    tag: 'config',
    body: validateConfigBody,
  },
  {
    method: 'post',
    path: '/config/reload',
    summary: 'Reload the config file; lists live vs restart-needed changes',
    tag: 'config',
  },
  {
    method: 'post',
    path: '/config/save',
    summary:
      'Validate config YAML text and, when valid, write it to the config file (timestamped backup, atomic) and reload. `baseHash`: SHA-256 of the text the edit started from (409 if the file changed since).',
    tag: 'config',
    body: saveConfigBody,
  },
  {
    method: 'get',
    path: '/backends/:name/terminal',
    summary:
      'WebSocket (upgrade): a terminal on an SSH backend. Query: `kind` (login | task | debug), `run` and `task` (task, debug), `cols`, `rows`. Needs an `Origin` naming this server.',
    tag: 'terminals',
    params: nameParams,
    query: z.object({
      kind: z.enum(['login', 'task', 'debug']).optional(),
      run: z.string().optional(),
      task: z.string().optional(),
      cols: z.string().optional(),
      rows: z.string().optional(),
    }),
    status: 101,
  },
  { method: 'get', path: '/terminals', summary: 'Open browser terminals', tag: 'terminals' },
  {
    method: 'delete',
    path: '/terminals/:id',
    summary: 'Close a browser terminal (ends its SSH channel)',
    tag: 'terminals',
    params: z.object({ id: z.string() }),
    status: 204,
  },
  {
    method: 'get',
    path: '/runs/:id/tasks/:taskId/debug',
    summary: "A task's debug jobs with their scheduler state",
    tag: 'debug',
    params: taskParams,
  },
  {
    method: 'post',
    path: '/runs/:id/tasks/:taskId/debug',
    summary: 'Submit a debug job of a task (same resources and environment, waits in a tmux session)',
    tag: 'debug',
    params: taskParams,
    status: 201,
  },
  {
    method: 'post',
    path: '/runs/:id/tasks/:taskId/debug/:session/release',
    summary: 'Release a debug job (ends its tmux session; cancels it when it has not started)',
    tag: 'debug',
    params: taskParams.extend({ session: z.string() }),
  },
  {
    method: 'post',
    path: '/jobs/:backend/:jobId/cancel',
    summary: 'Cancel one of your own jobs that ScriptHut did not start (scancel / qdel)',
    tag: 'jobs',
    params: z.object({ backend: z.string(), jobId: z.string() }),
    status: 204,
  },
  {
    method: 'post',
    path: '/jobs/:backend/:jobId/forget',
    summary: 'Hide a finished job (a task row or a job ScriptHut did not start) from the jobs list',
    tag: 'jobs',
    params: z.object({ backend: z.string(), jobId: z.string() }),
    status: 204,
  },
];

const errorSchema = {
  type: 'object',
  required: ['code', 'message', 'details'],
  properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
} as const;

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const s = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete s.$schema;
  return s;
}

function parameters(schema: z.ZodObject | undefined, where: 'path' | 'query') {
  if (!schema) return [];
  const shape = schema.shape as Record<string, z.ZodType>;
  return Object.entries(shape).map(([name, field]) => {
    const s = jsonSchema(field);
    return {
      name,
      in: where,
      required: where === 'path' ? true : !field.safeParse(undefined).success,
      schema: s,
      ...(typeof s.description === 'string' ? { description: s.description } : {}),
    };
  });
}

/** Builds the OpenAPI 3.1 document. */
export function buildOpenApi(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of API_ROUTES) {
    const oaPath = r.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const status = String(r.status ?? 200);
    const op: Record<string, unknown> = {
      operationId: `${r.method}${oaPath.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, ch: string | undefined) => (ch ? ch.toUpperCase() : ''))}`,
      summary: r.summary,
      tags: [r.tag],
      parameters: [...parameters(r.params, 'path'), ...parameters(r.query, 'query')],
      responses: {
        [status]: r.sse
          ? {
              description: 'Server-sent events',
              content: { 'text/event-stream': { schema: { type: 'string' } } },
            }
          : { description: 'Success', content: { 'application/json': { schema: { type: 'object' } } } },
        '4XX': {
          description: 'Client error',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
        '5XX': {
          description: 'Server or backend error',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      },
    };
    if (r.body)
      op.requestBody = { required: false, content: { 'application/json': { schema: jsonSchema(r.body) } } };
    paths[oaPath] ??= {};
    (paths[oaPath] as Record<string, unknown>)[r.method] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'ScriptHut API',
      version,
      description:
        'JSON API of ScriptHut. Errors are `{ code, message, details }`. Every route needs `Authorization: Bearer <token>` (the token: settings.auth_token, SCRIPTHUT_TOKEN, or `<data_dir>/auth_token`); repeated failures from one address get 429 with Retry-After. Request bodies are limited to 1 MiB (413). State-changing requests must be JSON (form-encoded bodies get 415) and same-origin.',
    },
    servers: [{ url: '/api/v1' }],
    security: [{ bearer: [] }],
    components: {
      schemas: { Error: errorSchema },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    paths,
  };
}
