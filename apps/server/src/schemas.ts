/**
 * zod schemas of every API input (path params, query strings, bodies). The same schemas validate
 * requests and feed the OpenAPI document.
 */
import { RUN_STATUSES, ScriptHutError, TASK_STATES } from '@scripthut/core';
import type { MiddlewareHandler, ValidationTargets } from 'hono';
import { validator } from 'hono/validator';
import { z } from 'zod';

/** Run ids: short and boring (8 hex chars in practice). No dots or slashes, so no traversal. */
export const runIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'run id must be 1–64 letters, digits, `_` or `-`');

/** Task ids may contain dots (grouping) but never `..`, slashes, backslashes or control characters. */
export const taskIdSchema = z
  .string()
  .min(1)
  .max(256)
  .refine(
    (s) => !s.includes('..') && !/[/\\]/.test(s) && !/\p{Cc}/u.test(s),
    'task id must not contain `..`, `/`, `\\` or control characters',
  );

/** Names of workflows, sources, projects and backends. */
export const nameSchema = z
  .string()
  .min(1)
  .max(200)
  .refine(
    (s) => !s.includes('..') && !/[\\]/.test(s) && !/\p{Cc}/u.test(s),
    'name must not contain `..`, `\\` or control characters',
  );

/** A workflow file inside a source or project: relative, no traversal. */
export const fileSchema = z
  .string()
  .min(1)
  .max(500)
  .refine(
    (s) => !s.startsWith('/') && !s.split(/[/\\]/).includes('..') && !/\p{Cc}/u.test(s),
    'file must be a relative path inside the source, without `..`',
  );

const boolish = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])])
  .transform((v) => v === true || v === 'true' || v === '1' || v === 'yes' || v === 'on');

const intish = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const runParams = z.object({ id: runIdSchema });
export const taskParams = z.object({ id: runIdSchema, taskId: taskIdSchema });
export const nameParams = z.object({ name: nameSchema });

export const runOptionsBody = z
  .object({
    backend: nameSchema.optional(),
    maxConcurrent: z.number().int().min(1).max(100_000).nullable().optional(),
    /** Reuse tasks completed by earlier runs (docs/resume.md). */
    resume: z.boolean().optional(),
    /** Git workflows, git sources, projects: another branch or an exact commit for this run (checked again by the runtime). */
    branch: z.string().min(1).max(255).optional(),
    commit: z
      .string()
      .regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/)
      .optional(),
  })
  .strict();

export const fileRunBody = runOptionsBody.extend({ file: fileSchema }).strict();

export const jobsQuery = z.object({
  mine: boolish.optional(),
  backend: nameSchema.optional(),
  recentHours: intish(0, 24 * 365).optional(),
});

export const runsQuery = z.object({
  limit: intish(1, 500).optional(),
  offset: intish(0, 10_000_000).optional(),
  status: z.enum(RUN_STATUSES).optional(),
  workflow: nameSchema.optional(),
  backend: nameSchema.optional(),
});

/** `state` may be repeated or comma-separated. */
const statesParam = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).filter(Boolean))
  .pipe(z.array(z.enum(TASK_STATES)));

export const tasksQuery = z.object({
  limit: intish(1, 1000).optional(),
  offset: intish(0, 10_000_000).optional(),
  state: statesParam.optional(),
  prefix: z.string().max(256).optional(),
});

export const runDetailQuery = z.object({
  taskLimit: intish(0, 1000).optional(),
  taskOffset: intish(0, 10_000_000).optional(),
});

/** One recorded output file of a task (`path` relative to its output directory). */
export const outputFileQuery = z.object({
  path: z.string().min(1).max(512),
  download: z.enum(['0', '1']).optional(),
});

export const logQuery = z.object({
  stream: z.enum(['stdout', 'stderr']).default('stdout'),
  tail: intish(1, 10_000_000).optional(),
  offset: intish(0, Number.MAX_SAFE_INTEGER).optional(),
  maxBytes: intish(1, 10_000_000).optional(),
});

export const logFollowQuery = z.object({
  stream: z.enum(['stdout', 'stderr']).default('stdout'),
  offset: intish(0, Number.MAX_SAFE_INTEGER).optional(),
  tail: intish(1, 10_000_000).optional(),
  intervalMs: intish(200, 60_000).optional(),
});

/**
 * `POST /runs/:id/rerun`: `all` / `failed` / `resume` make a new run of the stored tasks, `new` a new
 * run from the generator again, `in-place-all` / `in-place-failed` run the same run again (same id).
 */
export const rerunBody = z
  .object({
    mode: z.enum(['all', 'failed', 'resume', 'new', 'in-place-all', 'in-place-failed']).default('all'),
  })
  .strict();

/** `POST /estimate`: a POST because it runs the workflow's generator (and may clone a repository). */
export const estimateBody = z
  .object({
    kind: z.enum(['workflow', 'source', 'project']).default('workflow'),
    name: z.string().min(1).max(500),
    backend: nameSchema.optional(),
  })
  .strict();

/** `POST /auth/login-link`: the path the browser lands on after signing in (default `/`). */
export const loginLinkBody = z.object({ path: z.string().max(2000).startsWith('/').optional() }).strict();

export const validateConfigBody = z.object({ text: z.string().max(2_000_000) }).strict();

export const saveConfigBody = z
  .object({
    text: z.string().max(2_000_000),
    baseHash: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
  })
  .strict();

export const adhocTaskBody = z
  .object({
    command: z.string().min(1).max(100_000),
    backend: nameSchema,
    id: taskIdSchema.optional(),
    name: z.string().max(200).optional(),
    runName: z.string().max(200).optional(),
    cpus: z.number().int().min(1).max(100_000).optional(),
    memory: z.string().max(20).optional(),
    timeLimit: z.string().max(20).optional(),
    partition: z.string().max(100).optional(),
    gres: z.string().max(100).optional(),
    workingDir: z.string().max(4096).optional(),
    image: z.string().max(500).optional(),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().max(100_000)).optional(),
  })
  .strict();

/**
 * Hono validator middleware backed by a zod schema: on failure it throws a `validation_failed`
 * ScriptHutError whose `details.issues` name each bad field.
 */
/** What a client sends for a target: JSON as the schema's input; params/query as strings. */
export type ZvInput<Target extends keyof ValidationTargets, S extends z.ZodType> = Target extends 'json'
  ? z.input<S>
  : Target extends 'query'
    ? { [K in keyof z.input<S>]: string | string[] }
    : { [K in keyof z.input<S>]: string };

export function zv<Target extends keyof ValidationTargets, S extends z.ZodType>(
  target: Target,
  schema: S,
): MiddlewareHandler<
  // biome-ignore lint/suspicious/noExplicitAny: matches Hono's own validator middleware typing
  any,
  string,
  { in: { [K in Target]: ZvInput<Target, S> }; out: { [K in Target]: z.output<S> } }
> {
  return validator(target, (value) => {
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      throw new ScriptHutError(
        'validation_failed',
        `invalid ${target === 'param' ? 'path' : target}: ${parsed.error.issues.map((i) => `${i.path.join('.') || target}: ${i.message}`).join('; ')}`,
        {
          issues: parsed.error.issues.map((i) => ({ path: i.path.join('.') || target, message: i.message })),
        },
      );
    }
    return parsed.data as z.output<S>;
  }) as never;
}
