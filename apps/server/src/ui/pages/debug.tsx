/** @jsxImportSource hono/jsx */
/**
 * "Hands on" part of a task page on Slurm/PBS backends: a shell in the running task's job, and the
 * task's debug jobs (Debug submits one, Attach opens its tmux session in a browser terminal,
 * Release ends it). Forms: `POST /runs/:id/tasks/:taskId/debug` and `…/debug/:session/release`.
 */
import { type RunSummary, type TaskRecord, TERMINAL_JOB_STATES } from '@scripthut/core';
import type { DebugSessionView, ScriptHutRuntime } from '@scripthut/runtime';
import type { FC } from 'hono/jsx';
import { runIdSchema, taskIdSchema } from '../../schemas.js';
import { Form, fmtTime, type PageContext, Section, taskHref } from '../components.js';
import { parseOr400, type UiApp, type UiContext } from '../context.js';

/** What the hands-on section shows; null when the backend has no terminals. */
export interface HandsOn {
  backend: string;
  runId: string;
  taskId: string;
  running: boolean;
  sessions: DebugSessionView[];
  error: string | null;
}

/** Job states after which a debug job does not run any more (core's list). */
const ENDED: ReadonlySet<string> = TERMINAL_JOB_STATES;

/** Collects the hands-on data of a task (asks the scheduler only when the task has debug jobs). */
export async function handsOnOf(
  runtime: ScriptHutRuntime,
  run: RunSummary,
  task: TaskRecord,
): Promise<HandsOn | null> {
  const backend = runtime.listBackends().find((b) => b.name === run.run.backendName);
  if (!backend || (backend.type !== 'slurm' && backend.type !== 'pbs') || !runtime.debugSessions) return null;
  let sessions: DebugSessionView[] = [];
  let error: string | null = null;
  try {
    sessions = await runtime.debugSessions(run.run.id, task.spec.id);
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  }
  return {
    backend: backend.name,
    runId: run.run.id,
    taskId: task.spec.id,
    running: task.state === 'running',
    sessions,
    error,
  };
}

function terminalHref(h: HandsOn, kind: 'task' | 'debug'): string {
  const q = new URLSearchParams({ kind, run: h.runId, task: h.taskId });
  return `/backends/${encodeURIComponent(h.backend)}/terminal?${q}`;
}

export const TaskHandsOn: FC<{ ctx: PageContext; h: HandsOn }> = ({ ctx, h }) => {
  const base = taskHref(h.runId, h.taskId);
  return (
    <Section title="Hands on">
      <div class="actions" style="margin-bottom:8px">
        {h.running ? (
          <a class="button" id="task-shell" href={terminalHref(h, 'task')}>
            Shell in the job
          </a>
        ) : null}
        {base ? (
          <Form
            action={`${base}/debug`}
            ctx={ctx}
            confirm="Submit a debug job of this task (same resources and environment; it waits in a tmux session until released)?"
          >
            <button type="submit" id="task-debug">
              Debug
            </button>
          </Form>
        ) : null}
      </div>
      {h.error ? <div class="notice bad">{h.error}</div> : null}
      {h.sessions.length > 0 ? (
        <table id="debug-sessions">
          <thead>
            <tr>
              <th>Debug job</th>
              <th>State</th>
              <th>Node</th>
              <th>Submitted</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {[...h.sessions].reverse().map((s) => {
              const open = !s.releasedAt && !ENDED.has(s.state);
              return (
                <tr data-debug-session={s.session} data-debug-state={s.state}>
                  <td class="mono">{`${s.jobId} (${s.session})`}</td>
                  <td>{s.releasedAt && !ENDED.has(s.state) ? `${s.state}, released` : s.state}</td>
                  <td>{s.node ?? '—'}</td>
                  <td class="small">{fmtTime(s.submittedAt)}</td>
                  <td>
                    {open && s.state === 'running' ? (
                      <a class="button" href={terminalHref(h, 'debug')} data-attach={s.session}>
                        Attach
                      </a>
                    ) : null}{' '}
                    {open && base ? (
                      <Form
                        action={`${base}/debug/${s.session}/release`}
                        ctx={ctx}
                        confirm="End this debug job?"
                      >
                        <button type="submit" data-release={s.session}>
                          Release
                        </button>
                      </Form>
                    ) : null}
                    {open ? (
                      <div class="small muted">{`or on the node: tmux -L ${s.session} attach -t ${s.session}`}</div>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
    </Section>
  );
};

/** Registers the Debug and Release form actions. */
export function debugPageRoutes(ui: UiApp, x: UiContext): void {
  const { runtime } = x;
  const back = (runId: string, taskId: string) => taskHref(runId, taskId) ?? `/runs/${runId}`;
  ui.post('/runs/:id/tasks/:taskId/debug', async (c) => {
    const id = parseOr400(runIdSchema, c.req.param('id'), 'run id');
    const taskId = parseOr400(taskIdSchema, c.req.param('taskId'), 'task id');
    if (!runtime.debugTask) return c.text('this server has no debug sessions', 501);
    await runtime.debugTask(id, taskId);
    return c.redirect(back(id, taskId), 303);
  });
  ui.post('/runs/:id/tasks/:taskId/debug/:session/release', async (c) => {
    const id = parseOr400(runIdSchema, c.req.param('id'), 'run id');
    const taskId = parseOr400(taskIdSchema, c.req.param('taskId'), 'task id');
    if (!runtime.releaseDebug) return c.text('this server has no debug sessions', 501);
    await runtime.releaseDebug(id, taskId, c.req.param('session'));
    return c.redirect(back(id, taskId), 303);
  });
}
