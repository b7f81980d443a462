/** @jsxImportSource hono/jsx */
/** Form actions of the jobs list: cancel one of your own jobs, or forget a finished one. */
import { jobActionTarget, runJobAction } from '../../job-actions.js';
import type { UiApp, UiContext } from '../context.js';

/** Registers `POST /jobs/:backend/:jobId/cancel` and `…/forget` (back to the dashboard). */
export function jobActionPageRoutes(ui: UiApp, x: UiContext): void {
  for (const action of ['cancel', 'forget'] as const) {
    ui.post(`/jobs/:backend/:jobId/${action}`, async (c) => {
      await runJobAction(x.runtime, action, jobActionTarget(c));
      return c.redirect('/#jobs', 303);
    });
  }
}
