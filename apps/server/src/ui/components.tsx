/** @jsxImportSource hono/jsx */
/**
 * Reusable pieces of the server-rendered UI (hono/jsx). Everything here is pure: data in, HTML out,
 * so the same components render full pages and the SSE fragments that keep them live.
 *
 * This module holds the page layout and the run and workflow views; the small shared pieces (links,
 * pills, the CSRF form, formatting) are in `primitives.tsx` and the backend and job views in
 * `job-views.tsx`. Every name is exported from here as well.
 */
import type { Issue, RunSummary, TaskRecord, TaskState } from '@scripthut/core';
import { TASK_STATES } from '@scripthut/core';
import type { RunCost, WorkflowView } from '@scripthut/runtime';
import type { Child, FC, PropsWithChildren } from 'hono/jsx';
import { durationOf, formatDuration, progressOf, type TaskGroup } from '../views.js';
import { Form, fmtTime, fmtUsd, type PageContext, Pill, uriComponent } from './primitives.js';
import { STYLE } from './style.js';

export * from './job-views.js';
export * from './primitives.js';

const NAV: [string, string][] = [
  ['/', 'Dashboard'],
  ['/workflows', 'Workflows'],
  ['/sources', 'Sources'],
  ['/projects', 'Projects'],
  ['/runs', 'Runs'],
  ['/settings', 'Settings'],
];

export const Layout: FC<PropsWithChildren<{ title: string; active: string; ctx: PageContext }>> = ({
  title,
  active,
  ctx,
  children,
}) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="csrf-token" content={ctx.csrf} />
      <title>{`${title} · ScriptHut`}</title>
      <style dangerouslySetInnerHTML={{ __html: STYLE }} />
    </head>
    <body>
      <header class="top">
        <a class="brand" href="/">
          ScriptHut
        </a>
        <nav>
          {NAV.map(([href, label]) => (
            <a href={href} class={active === href ? 'active' : ''}>
              {label}
            </a>
          ))}
        </nav>
        <span id="live-indicator" class="live-dot">
          static
        </span>
        <button type="button" id="notify-enable" hidden>
          Desktop notifications
        </button>
        <Form action="/logout" ctx={ctx}>
          <button type="submit">Sign out</button>
        </Form>
      </header>
      <main>{children}</main>
      <div id="toasts" data-notify="/api/v1/notifications/events" aria-live="polite" />
      <script src="/assets/app.js" defer />
    </body>
  </html>
);

const BAR_ORDER: TaskState[] = [
  'completed',
  'running',
  'queued',
  'submitted',
  'submitting',
  'failed',
  'dep_failed',
  'cancelled',
];

/** Stacked progress bar, one segment per state. */
export const StateBar: FC<{ counts: Record<TaskState, number>; total: number }> = ({ counts, total }) => (
  <div
    class="bar"
    title={TASK_STATES.filter((s) => counts[s] > 0)
      .map((s) => `${s}: ${counts[s]}`)
      .join(', ')}
  >
    {total > 0
      ? BAR_ORDER.filter((s) => counts[s] > 0).map((s) => (
          <span class={`s-${s}`} style={`width:${((counts[s] / total) * 100).toFixed(2)}%`} />
        ))
      : null}
  </div>
);

export function runCostText(cost: RunCost | null | undefined): string {
  if (!cost) return '—';
  if (!cost.available) return '—';
  return fmtUsd(cost.total) + (cost.uncostedTasks > 0 ? ` (+${cost.uncostedTasks} uncosted)` : '');
}

export const RunsTable: FC<{ runs: RunSummary[]; costs: Map<string, RunCost | null>; ctx: PageContext }> = ({
  runs,
  costs,
}) =>
  runs.length === 0 ? (
    <div class="panel empty">No runs yet. Start one from Workflows.</div>
  ) : (
    <table>
      <thead>
        <tr>
          <th>Run</th>
          <th>Workflow</th>
          <th>Backend</th>
          <th>Status</th>
          <th>Progress</th>
          <th>Duration</th>
          <th>Cost</th>
          <th>Created</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((r) => {
          const p = progressOf(r);
          return (
            <tr data-run={r.run.id}>
              <td class="mono">
                <a href={`/runs/${r.run.id}`}>{r.run.id}</a>
              </td>
              <td>{r.run.workflowName}</td>
              <td>{r.run.backendName}</td>
              <td>
                <Pill state={r.status} />
              </td>
              <td>
                <StateBar counts={r.counts} total={r.total} />
                <span class="small muted">
                  {p.done} / {p.total}
                </span>
              </td>
              <td>{formatDuration(durationOf(r))}</td>
              <td>{runCostText(costs.get(r.run.id))}</td>
              <td class="small">{fmtTime(r.run.createdAt)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );

export const Pager: FC<{
  base: string;
  params: Record<string, string | undefined>;
  page: number;
  pageSize: number;
  total: number;
}> = (p) => {
  const pages = Math.max(1, Math.ceil(p.total / p.pageSize));
  if (pages <= 1) return null;
  const href = (page: number) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(p.params)) if (v) q.set(k, v);
    q.set('page', String(page));
    return `${p.base}?${q.toString()}`;
  };
  return (
    <div class="pager">
      {p.page > 1 ? (
        <a class="btn" href={href(p.page - 1)}>
          ← Previous
        </a>
      ) : null}
      <span class="muted small">
        Page {p.page} of {pages} · {p.total} items
      </span>
      {p.page < pages ? (
        <a class="btn" href={href(p.page + 1)}>
          Next →
        </a>
      ) : null}
    </div>
  );
};

export const GroupsPanel: FC<{ runId: string; groups: TaskGroup[]; prefix: string | undefined }> = ({
  runId,
  groups,
  prefix,
}) => {
  if (groups.length <= 1 && (groups[0]?.prefix ?? '') === '')
    return <div class="muted small">All tasks are in one group.</div>;
  const shown = groups.slice(0, 300);
  return (
    <div class="groups">
      {shown.map((g) => {
        const label = g.prefix === '' ? '(ungrouped)' : g.prefix;
        const id = `grp-${g.prefix.replace(/[^A-Za-z0-9_-]/g, '_') || '_'}`;
        return (
          <details class="group" id={id} open={prefix !== undefined && prefix === `${g.prefix}.`}>
            <summary>
              <strong>{label}</strong>
              <span class="muted small">{g.total} tasks</span>
              <span style="flex:1">
                <StateBar counts={g.counts} total={g.total} />
              </span>
            </summary>
            <div class="body">
              <div class="chips">
                {TASK_STATES.filter((s) => g.counts[s] > 0).map((s) => (
                  <span>
                    <Pill state={s} /> {g.counts[s]}
                  </span>
                ))}
              </div>
              {g.prefix !== '' && uriComponent(g.prefix) !== null ? (
                <a href={`/runs/${runId}?prefix=${uriComponent(`${g.prefix}.`)}`}>Show only these tasks →</a>
              ) : null}
            </div>
          </details>
        );
      })}
      {groups.length > shown.length ? (
        <div class="muted small">…and {groups.length - shown.length} more groups</div>
      ) : null}
    </div>
  );
};

export function taskDuration(t: TaskRecord, now = Date.now()): number | null {
  if (!t.startedAt) return null;
  const end = t.finishedAt ? Date.parse(t.finishedAt) : now;
  return Math.max(0, end - Date.parse(t.startedAt));
}

export const Section: FC<PropsWithChildren<{ title: Child; right?: Child }>> = ({
  title,
  right,
  children,
}) => (
  <>
    <div class="toolbar">
      <h2 style="margin:8px 0 0">{title}</h2>
      {right}
    </div>
    {children}
  </>
);

/**
 * Branch and commit fields of a run form (git workflows, git sources, projects): empty fields mean
 * the configured branch; the runtime validates both (docs/resume.md, "Run from another branch").
 */
export const GitOverrideFields: FC<{ name: string; branch?: string; commit?: string }> = (p) => (
  <details class="git-override" open={Boolean(p.branch || p.commit)}>
    <summary class="small">branch / commit</summary>
    <input
      name="branch"
      aria-label={`branch for ${p.name}`}
      placeholder="branch"
      maxlength={255}
      value={p.branch ?? ''}
      size={14}
    />{' '}
    <input
      name="commit"
      aria-label={`commit for ${p.name}`}
      placeholder="full commit hash"
      maxlength={64}
      value={p.commit ?? ''}
      size={14}
    />
  </details>
);

/** Dry-run and run forms of one workflow (with a backend choice when several exist). */
export const RunButtons: FC<{
  ctx: PageContext;
  kind: WorkflowView['kind'];
  name: string;
  target?: string;
  file?: string;
  backend?: string;
  backends?: string[];
  /** Offer branch/commit fields (git workflows, git sources, projects). */
  git?: boolean;
}> = (p) => (
  <div class="actions">
    <Form action="/ui/dry-run" ctx={p.ctx}>
      <input type="hidden" name="kind" value={p.kind} />
      <input type="hidden" name="name" value={p.target ?? p.name} />
      {p.file ? <input type="hidden" name="file" value={p.file} /> : null}
      {p.backend ? <input type="hidden" name="backend" value={p.backend} /> : null}
      <button type="submit">Dry run</button>
    </Form>
    <Form action="/ui/run" ctx={p.ctx}>
      <input type="hidden" name="kind" value={p.kind} />
      <input type="hidden" name="name" value={p.target ?? p.name} />
      {p.file ? <input type="hidden" name="file" value={p.file} /> : null}
      {p.backends && p.backends.length > 1 ? (
        <select name="backend" aria-label="backend">
          {p.backends.map((b) => (
            <option value={b} selected={b === p.backend}>
              {b}
            </option>
          ))}
        </select>
      ) : p.backend ? (
        <input type="hidden" name="backend" value={p.backend} />
      ) : null}{' '}
      <button type="submit" class="primary" data-run={p.name}>
        Run
      </button>
      {p.git ? <GitOverrideFields name={p.name} /> : null}
    </Form>
  </div>
);

/** Config or workflow issues with their severity, path and line. */
export const IssueList: FC<{ issues: Issue[] }> = ({ issues }) =>
  issues.length === 0 ? null : (
    <ul class="issues">
      {issues.map((i) => (
        <li>
          <span class={`pill ${i.severity === 'warning' ? 'warn' : 'bad'}`}>{i.severity ?? 'error'}</span>{' '}
          <code>{i.path}</code>
          {i.line ? <span class="muted small"> (line {i.line})</span> : null}: {i.message}
        </li>
      ))}
    </ul>
  );

/** The error page of every UI route (the status decides the heading). */
export const ErrorPage: FC<{ ctx: PageContext; status: number; message: string }> = (p) => (
  <Layout title="Error" active="" ctx={p.ctx}>
    <h1>{p.status === 404 ? 'Not found' : 'Something went wrong'}</h1>
    <div class="notice bad">{p.message}</div>
    <p>
      <a href="/">← Dashboard</a>
    </p>
  </Layout>
);
