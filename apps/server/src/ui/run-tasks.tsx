/** @jsxImportSource hono/jsx */
/** The tasks of a run as a grouped table or a timeline (full page and live fragments). */
import type { TaskRecord, TaskState } from '@scripthut/core';
import type { FC } from 'hono/jsx';
import { formatDuration, groupOf, pendingExplanation } from '../views.js';
import { MaybeLink, Pager, Pill, taskDuration, taskHref } from './components.js';

/** The run and task whose result a cached (reused, no job) task carries, or null. */
function cachedSource(t: TaskRecord): { runId: string; taskId: string } | null {
  const c = t.meta.cached as { runId?: unknown; taskId?: unknown } | undefined;
  if (t.state !== 'completed' || !c || typeof c.runId !== 'string' || typeof c.taskId !== 'string')
    return null;
  return { runId: c.runId, taskId: c.taskId };
}

export interface RunViewParams {
  page: number;
  pageSize: number;
  state: TaskState | undefined;
  prefix: string | undefined;
  view: 'tasks' | 'timeline';
}

export function runQueryString(p: RunViewParams, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams();
  if (p.page > 1) q.set('page', String(p.page));
  if (p.state) q.set('state', p.state);
  if (p.prefix) q.set('prefix', p.prefix);
  if (p.view !== 'tasks') q.set('view', p.view);
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

export const TaskTable: FC<{
  runId: string;
  tasks: TaskRecord[];
  total: number;
  params: RunViewParams;
  depStates: Map<string, TaskState>;
}> = ({ runId, tasks, total, params, depStates }) => {
  if (tasks.length === 0) return <div class="panel empty">No tasks match.</div>;
  let lastGroup: string | null = null;
  const now = Date.now();
  return (
    <>
      <table>
        <thead>
          <tr>
            <th>Task</th>
            <th>Name</th>
            <th>State</th>
            <th>Why / error</th>
            <th>Job</th>
            <th>Node</th>
            <th>Duration</th>
            <th>Exit</th>
          </tr>
        </thead>
        <tbody>
          {tasks.map((t) => {
            const g = groupOf(t.spec.id);
            const header =
              g !== lastGroup && g !== '' ? (
                <tr class="group">
                  <td colspan={8}>{g}</td>
                </tr>
              ) : null;
            lastGroup = g;
            const reused = cachedSource(t);
            const why =
              t.error ??
              (reused
                ? `cached: result of run ${reused.runId} task ${reused.taskId}`
                : pendingExplanation(t, depStates));
            return (
              <>
                {header}
                <tr data-task={t.spec.id} data-state={t.state} data-cached={reused ? 'true' : undefined}>
                  <td class="mono">
                    <MaybeLink href={taskHref(runId, t.spec.id)}>{t.spec.id}</MaybeLink>
                  </td>
                  <td>{t.spec.name}</td>
                  <td>
                    <Pill state={reused ? 'cached' : t.state} title={why} />
                  </td>
                  <td class="small">
                    {reused ? (
                      <>
                        cached: result of{' '}
                        <a
                          href={taskHref(reused.runId, reused.taskId) ?? undefined}
                        >{`run ${reused.runId} task ${reused.taskId}`}</a>
                      </>
                    ) : (
                      (why ?? '')
                    )}
                  </td>
                  <td class="mono small">{t.jobId ?? '—'}</td>
                  <td class="small">{t.node ?? '—'}</td>
                  <td>{formatDuration(taskDuration(t, now))}</td>
                  <td>{t.exitCode ?? '—'}</td>
                </tr>
              </>
            );
          })}
        </tbody>
      </table>
      <Pager
        base={`/runs/${runId}`}
        params={{
          state: params.state,
          prefix: params.prefix,
          view: params.view === 'tasks' ? undefined : params.view,
        }}
        page={params.page}
        pageSize={params.pageSize}
        total={total}
      />
    </>
  );
};

/** A round step (1 s … 1 day) that gives at most ~10 time ticks over `spanMs`. */
export function tickStep(spanMs: number): number {
  const steps = [
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
  ].map((s) => s * 1000);
  return steps.find((s) => spanMs / s <= 10) ?? 86400_000 * Math.ceil(spanMs / 86400_000 / 10);
}

/** Gantt-like bars from the task timestamps: waiting (submitted → started) and running (started → finished/now). */
export const Timeline: FC<{ runId: string; tasks: TaskRecord[]; total: number; params: RunViewParams }> = ({
  runId,
  tasks,
  total,
  params,
}) => {
  const now = Date.now();
  const timed = tasks.filter((t) => t.submittedAt);
  if (timed.length === 0) return <div class="panel empty">No task has been submitted yet.</div>;
  // accounting start times (whole seconds) may precede the recorded submission by a fraction
  const start = Math.min(
    ...timed.map((t) => Date.parse(t.submittedAt as string)),
    ...timed.filter((t) => t.startedAt).map((t) => Date.parse(t.startedAt as string)),
  );
  const end = Math.max(...timed.map((t) => (t.finishedAt ? Date.parse(t.finishedAt) : now)), start + 1000);
  const span = end - start;
  const pct = (ms: number) => `${(((ms - start) / span) * 100).toFixed(3)}%`;
  const width = (a: number, b: number) => `${Math.max(0.3, ((b - a) / span) * 100).toFixed(3)}%`;
  const step = tickStep(span);
  const ticks: number[] = [];
  for (let t = 0; t <= span; t += step) ticks.push(t);
  return (
    <div class="gantt">
      <div class="axis">
        {ticks.map((t) => (
          <span style={`left:${((t / span) * 100).toFixed(2)}%`}>+{formatDuration(t)}</span>
        ))}
      </div>
      {timed.map((t) => {
        const sub = Date.parse(t.submittedAt as string);
        const st = t.startedAt ? Date.parse(t.startedAt) : null;
        const fin = t.finishedAt ? Date.parse(t.finishedAt) : now;
        return (
          <div class="row" title={`${t.spec.id}: ${t.state}`}>
            <div class="label mono">
              <MaybeLink href={taskHref(runId, t.spec.id)}>{t.spec.id}</MaybeLink>
            </div>
            <div class="track">
              <span class="wait" style={`left:${pct(sub)};width:${width(sub, st ?? fin)}`} />
              {st !== null ? (
                <span class={`runbar ${t.state}`} style={`left:${pct(st)};width:${width(st, fin)}`} />
              ) : null}
            </div>
          </div>
        );
      })}
      <Pager
        base={`/runs/${runId}`}
        params={{ state: params.state, prefix: params.prefix, view: 'timeline' }}
        page={params.page}
        pageSize={params.pageSize}
        total={total}
      />
    </div>
  );
};
