/**
 * Actions on the user's jobs that ScriptHut did not start (the "external" rows of the jobs list):
 *
 * - `POST /api/v1/jobs/:backend/:jobId/cancel` → 204 (own jobs only, with `scancel`/`qdel`);
 * - `POST /api/v1/jobs/:backend/:jobId/forget` → 204 (finished jobs: hidden from the list).
 */
import { ScriptHutError } from '@scripthut/core';
import type { ScriptHutRuntime } from '@scripthut/runtime';
import type { Context, Hono } from 'hono';
import { nameSchema } from './schemas.js';

const JOB_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.[\]-]{0,99}$/;

/** The backend and job id of a job action; throws `validation_failed` naming the field. */
export function jobActionTarget(c: Context): { backend: string; jobId: string } {
  const backend = nameSchema.safeParse(c.req.param('backend'));
  if (!backend.success) throw new ScriptHutError('validation_failed', 'backend: not a backend name');
  const jobId = c.req.param('jobId') ?? '';
  if (!JOB_ID_RE.test(jobId)) throw new ScriptHutError('validation_failed', 'jobId: not a job id');
  return { backend: backend.data, jobId };
}

/** Runs the cancel or forget action. */
export async function runJobAction(
  runtime: ScriptHutRuntime,
  action: 'cancel' | 'forget',
  target: { backend: string; jobId: string },
): Promise<void> {
  if (action === 'cancel') {
    if (!runtime.cancelExternalJob) throw new ScriptHutError('not_implemented', 'cannot cancel jobs here');
    await runtime.cancelExternalJob(target.backend, target.jobId);
  } else {
    if (!runtime.forgetJob) throw new ScriptHutError('not_implemented', 'cannot forget jobs here');
    runtime.forgetJob(target.backend, target.jobId);
  }
}

/** Adds the job action routes to `app` (after authentication and CSRF middleware). */
export function jobActionRoutes(app: Hono, runtime: ScriptHutRuntime): void {
  for (const action of ['cancel', 'forget'] as const) {
    app.post(`/api/v1/jobs/:backend/:jobId/${action}`, async (c) => {
      await runJobAction(runtime, action, jobActionTarget(c));
      return c.body(null, 204);
    });
  }
}
