/** @jsxImportSource hono/jsx */
/** Full pages and the fragments the live (SSE) endpoints re-render. */
import type { Issue, RunSummary, TaskRecord, TaskState, TaskTransition } from '@scripthut/core';
import { TASK_STATES } from '@scripthut/core';
import type {
  BackendDetail,
  BackendView,
  ConfigReloadResult,
  DryRunResult,
  JobView,
  ProjectView,
  RunCost,
  SourceView,
  WorkflowView,
} from '@scripthut/runtime';
import type { FC } from 'hono/jsx';
import {
  durationOf,
  formatDuration,
  groupOf,
  pendingExplanation,
  progressOf,
  type TaskGroup,
} from '../views.js';
import {
  BackendCards,
  Form,
  fmtTime,
  fmtUsd,
  GroupsPanel,
  JobsTable,
  Layout,
  type PageContext,
  Pager,
  Pill,
  RunsTable,
  runCostText,
  Section,
  StateBar,
  taskDuration,
} from './components.js';

// ---------------------------------------------------------------- dashboard

export const Dashboard: FC<{
  ctx: PageContext;
  backends: BackendView[];
  jobs: JobView[];
  mine: boolean;
  runs: RunSummary[];
  costs: Map<string, RunCost | null>;
}> = (p) => (
  <Layout title="Dashboard" active="/" ctx={p.ctx}>
    <div data-live={`/live/dashboard${p.mine ? '?mine=1' : ''}`}>
      <h1>Dashboard</h1>
      <div id="backend-cards">
        <BackendCards backends={p.backends} />
      </div>
      <Section title="Active runs" right={<a href="/runs">All runs →</a>}>
        <div id="active-runs">
          <ActiveRuns runs={p.runs} costs={p.costs} ctx={p.ctx} />
        </div>
      </Section>
      <Section
        title="Jobs"
        right={
          <div class="actions">
            <a class={`btn ${p.mine ? 'primary' : ''}`} href={p.mine ? '/' : '/?mine=1'} data-toggle="mine">
              {p.mine ? '✓ My jobs' : 'My jobs'}
            </a>
          </div>
        }
      >
        <div id="jobs-table">
          <JobsTable jobs={p.jobs} />
        </div>
      </Section>
    </div>
  </Layout>
);

export const ActiveRuns: FC<{ runs: RunSummary[]; costs: Map<string, RunCost | null>; ctx: PageContext }> = (
  p,
) =>
  p.runs.length === 0 ? (
    <div class="panel empty">Nothing running.</div>
  ) : (
    <RunsTable runs={p.runs} costs={p.costs} ctx={p.ctx} />
  );

export const BackendPage: FC<{ ctx: PageContext; backend: BackendDetail }> = ({ ctx, backend }) => (
  <Layout title={`Backend ${backend.name}`} active="/" ctx={ctx}>
    <h1>
      Backend {backend.name} <span class="muted small">{backend.type}</span>
    </h1>
    <BackendCards backends={[backend]} />
    {backend.clusterInfo && backend.clusterInfo.partitions.length > 0 ? (
      <Section title="Partitions">
        <table>
          <thead>
            <tr>
              <th>Partition</th>
              <th>State</th>
              <th>CPUs idle / total</th>
              <th>Nodes</th>
              <th>GPUs idle / total</th>
              <th>Time limit</th>
            </tr>
          </thead>
          <tbody>
            {backend.clusterInfo.partitions.map((p) => (
              <tr>
                <td>
                  {p.name}
                  {p.isDefault ? <span class="muted small"> (default)</span> : null}
                </td>
                <td>{p.state ?? '—'}</td>
                <td>{`${p.cpusIdle} / ${p.cpusTotal}`}</td>
                <td>{p.nodes ?? '—'}</td>
                <td>{p.gpusTotal ? `${p.gpusIdle ?? '?'} / ${p.gpusTotal}` : '—'}</td>
                <td>{p.timeLimit ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    ) : null}
    <Section title="Recent commands">
      {backend.commandLog.length === 0 ? (
        <div class="panel empty">No remote commands recorded.</div>
      ) : (
        <table>
          <thead>
            <tr>
              <th>At</th>
              <th>Command</th>
              <th>Exit</th>
              <th>Duration</th>
            </tr>
          </thead>
          <tbody>
            {[...backend.commandLog].reverse().map((e) => (
              <tr>
                <td class="small">{fmtTime(e.at)}</td>
                <td>
                  <details>
                    <summary class="mono small">
                      {e.command.length > 140 ? `${e.command.slice(0, 140)}…` : e.command}
                    </summary>
                    {e.stdout ? <pre>{e.stdout}</pre> : null}
                    {e.stderr ? <pre>{e.stderr}</pre> : null}
                  </details>
                </td>
                <td>{e.exitCode ?? '—'}</td>
                <td>{e.durationMs} ms</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  </Layout>
);

// ---------------------------------------------------------------- workflows, sources, projects

const RunButtons: FC<{
  ctx: PageContext;
  kind: WorkflowView['kind'];
  name: string;
  target?: string;
  file?: string;
  backend?: string;
  backends?: string[];
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
    </Form>
  </div>
);

export const WorkflowsPage: FC<{ ctx: PageContext; workflows: WorkflowView[]; backends: string[] }> = (p) => {
  const configured = p.workflows.filter((w) => w.kind === 'workflow');
  return (
    <Layout title="Workflows" active="/workflows" ctx={p.ctx}>
      <h1>Workflows</h1>
      {configured.length === 0 ? (
        <div class="panel empty">No workflows configured.</div>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Description</th>
              <th>Backend</th>
              <th>Max concurrent</th>
              <th>Git</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {configured.map((w) => (
              <tr data-workflow={w.name}>
                <td>
                  <strong>{w.name}</strong>
                </td>
                <td>{w.description || <span class="muted">—</span>}</td>
                <td>{w.backend}</td>
                <td>{w.maxConcurrent ?? '—'}</td>
                <td class="small">{w.git ? `${w.git.repo}@${w.git.branch}` : '—'}</td>
                <td>
                  <RunButtons
                    ctx={p.ctx}
                    kind="workflow"
                    name={w.name}
                    backend={w.backend}
                    backends={p.backends}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Layout>
  );
};

export const SourcesPage: FC<{ ctx: PageContext; sources: SourceView[]; backends: string[] }> = (p) => (
  <Layout title="Sources" active="/sources" ctx={p.ctx}>
    <h1>Sources</h1>
    {p.sources.length === 0 ? <div class="panel empty">No sources configured.</div> : null}
    {p.sources.map((s) => (
      <div class="panel">
        <div class="toolbar">
          <h3>
            {s.name} <span class="muted small">{s.type}</span>
          </h3>
          <Form action={`/ui/sources/${encodeURIComponent(s.name)}/sync`} ctx={p.ctx}>
            <button type="submit">Sync</button>
          </Form>
        </div>
        <dl class="kv">
          <dt>Location</dt>
          <dd class="mono small">{s.location}</dd>
          <dt>Branch</dt>
          <dd>{s.branch ?? '—'}</dd>
          <dt>Commit</dt>
          <dd class="mono small">{s.commit ?? '—'}</dd>
          <dt>Last sync</dt>
          <dd>{fmtTime(s.lastSyncAt)}</dd>
          <dt>Backend</dt>
          <dd>{s.backend}</dd>
        </dl>
        {s.error ? <div class="notice bad">{s.error}</div> : null}
        <IssueList issues={s.warnings} />
        {s.workflows.length === 0 ? (
          <p class="muted">No workflow files found.</p>
        ) : (
          <table style="margin-top:10px">
            <tbody>
              {s.workflows.map((w) => (
                <tr>
                  <td class="mono">{w.file ?? w.name}</td>
                  <td>{w.description}</td>
                  <td>
                    <RunButtons
                      ctx={p.ctx}
                      kind="source"
                      name={w.name}
                      target={s.name}
                      file={w.file ?? w.name}
                      backend={s.backend}
                      backends={p.backends}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    ))}
  </Layout>
);

export const ProjectsPage: FC<{
  ctx: PageContext;
  projects: { project: ProjectView; workflows: WorkflowView[]; error: string | null }[];
  backends: string[];
}> = (p) => (
  <Layout title="Projects" active="/projects" ctx={p.ctx}>
    <h1>Projects</h1>
    {p.projects.length === 0 ? <div class="panel empty">No projects configured.</div> : null}
    {p.projects.map(({ project, workflows, error }) => (
      <div class="panel">
        <h3>
          {project.name} <span class="muted small mono">{project.path}</span>
        </h3>
        <p class="muted">{project.description}</p>
        {error ? <div class="notice bad">{error}</div> : null}
        <table>
          <tbody>
            {workflows.map((w) => (
              <tr>
                <td class="mono">{w.file ?? w.name}</td>
                <td>
                  <RunButtons
                    ctx={p.ctx}
                    kind="project"
                    name={w.name}
                    target={project.name}
                    file={w.file ?? w.name}
                    backend={project.backend}
                    backends={p.backends}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    ))}
  </Layout>
);

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

const DRY_RUN_SCRIPT_LIMIT = 500;

export const DryRunPage: FC<{
  ctx: PageContext;
  result: DryRunResult;
  form: { kind: string; name: string; file?: string | undefined; backend?: string | undefined };
}> = ({ ctx, result, form }) => (
  <Layout title={`Dry run · ${result.workflowName}`} active="/workflows" ctx={ctx}>
    <h1>Dry run · {result.workflowName}</h1>
    <div class="panel">
      <dl class="kv">
        <dt>Backend</dt>
        <dd>{result.backendName}</dd>
        <dt>Tasks</dt>
        <dd>{result.tasks.length}</dd>
        <dt>Log directory</dt>
        <dd class="mono small">{result.logDir}</dd>
        <dt>Commit</dt>
        <dd class="mono small">
          {result.git ? `${result.git.repo}@${result.git.branch} ${result.git.sha}` : '—'}
        </dd>
        <dt>Estimated cost</dt>
        <dd>
          {result.estimate.available
            ? `up to ${fmtUsd(result.estimate.upperBound)}`
            : (result.estimate.reason ?? 'not available')}
        </dd>
      </dl>
      <IssueList issues={result.warnings} />
      <div class="actions" style="margin-top:12px">
        <Form action="/ui/run" ctx={ctx}>
          <input type="hidden" name="kind" value={form.kind} />
          <input type="hidden" name="name" value={form.name} />
          {form.file ? <input type="hidden" name="file" value={form.file} /> : null}
          {form.backend ? <input type="hidden" name="backend" value={form.backend} /> : null}
          <button type="submit" class="primary">
            Submit this run
          </button>
        </Form>
      </div>
    </div>
    <h2>Generated scripts</h2>
    {result.tasks.slice(0, DRY_RUN_SCRIPT_LIMIT).map((t) => (
      <details class="group" open={result.tasks.length <= 10}>
        <summary>
          <strong class="mono">{t.task.id}</strong> <span class="muted">{t.task.name}</span>
          {t.task.deps.length ? <span class="muted small">deps: {t.task.deps.join(', ')}</span> : null}
        </summary>
        <div class="body">
          <dl class="kv">
            <dt>Working dir</dt>
            <dd class="mono small">{t.workingDir}</dd>
            <dt>stdout</dt>
            <dd class="mono small">{t.stdoutPath}</dd>
            <dt>stderr</dt>
            <dd class="mono small">{t.stderrPath}</dd>
            <dt>Resources</dt>
            <dd>{`${t.task.cpus} cpu · ${t.task.memory} · ${t.task.timeLimit} · ${t.task.partition ?? 'default partition'}`}</dd>
          </dl>
          <pre>{t.script}</pre>
        </div>
      </details>
    ))}
    {result.tasks.length > DRY_RUN_SCRIPT_LIMIT ? (
      <p class="muted">
        …and {result.tasks.length - DRY_RUN_SCRIPT_LIMIT} more tasks (use the API for all scripts).
      </p>
    ) : null}
  </Layout>
);

// ---------------------------------------------------------------- runs

export const RunsPage: FC<{
  ctx: PageContext;
  runs: RunSummary[];
  total: number;
  page: number;
  pageSize: number;
  status: string | undefined;
  costs: Map<string, RunCost | null>;
}> = (p) => (
  <Layout title="Runs" active="/runs" ctx={p.ctx}>
    <h1>Runs</h1>
    <div class="chips">
      {['all', 'pending', 'running', 'completed', 'failed', 'cancelled'].map((s) => (
        <a
          class={`btn ${(p.status ?? 'all') === s ? 'primary' : ''}`}
          href={s === 'all' ? '/runs' : `/runs?status=${s}`}
        >
          {s}
        </a>
      ))}
    </div>
    <div data-live={`/live/runs?page=${p.page}${p.status ? `&status=${p.status}` : ''}`}>
      <div id="runs-table">
        <RunsTable runs={p.runs} costs={p.costs} ctx={p.ctx} />
        <Pager
          base="/runs"
          params={{ status: p.status }}
          page={p.page}
          pageSize={p.pageSize}
          total={p.total}
        />
      </div>
    </div>
  </Layout>
);

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

export const RunSummaryPanel: FC<{
  ctx: PageContext;
  summary: RunSummary;
  cost: RunCost | null;
  params: RunViewParams;
}> = ({ ctx, summary, cost, params }) => {
  const r = summary.run;
  const p = progressOf(summary);
  const active = summary.status === 'running' || summary.status === 'pending';
  const failed = summary.counts.failed + summary.counts.dep_failed + summary.counts.cancelled;
  return (
    <div class="panel" data-title={`${p.percent}% · ${r.workflowName} · ScriptHut`}>
      <div class="toolbar">
        <div class="actions">
          <Pill state={summary.status} />
          <span data-run-status={summary.status} class="muted">
            {p.done} of {p.total} tasks done ({p.percent}%)
          </span>
        </div>
        <div class="actions">
          {active ? (
            <Form
              action={`/ui/runs/${r.id}/cancel`}
              ctx={ctx}
              confirm="Cancel this run? Running jobs will be cancelled."
            >
              <button type="submit" class="danger">
                Cancel run
              </button>
            </Form>
          ) : null}
          <Form action={`/ui/runs/${r.id}/rerun`} ctx={ctx}>
            <input type="hidden" name="mode" value="all" />
            <button type="submit">Rerun all</button>
          </Form>
          {!active && failed > 0 ? (
            <Form action={`/ui/runs/${r.id}/rerun`} ctx={ctx}>
              <input type="hidden" name="mode" value="failed" />
              <button type="submit">Rerun failed</button>
            </Form>
          ) : null}
          {!active ? (
            <Form action={`/ui/runs/${r.id}/delete`} ctx={ctx} confirm="Delete this run and its history?">
              <button type="submit" class="danger">
                Delete
              </button>
            </Form>
          ) : null}
        </div>
      </div>
      <StateBar counts={summary.counts} total={summary.total} />
      <div class="chips">
        {TASK_STATES.filter((s) => summary.counts[s] > 0).map((s) => (
          <a
            href={`/runs/${r.id}${runQueryString({ ...params, page: 1, state: params.state === s ? undefined : s })}`}
            title={`show ${s} tasks`}
          >
            <Pill state={s} /> <span>{summary.counts[s]}</span>
          </a>
        ))}
      </div>
      <dl class="kv">
        <dt>Backend</dt>
        <dd>{r.backendName}</dd>
        <dt>Created</dt>
        <dd>{fmtTime(r.createdAt)}</dd>
        <dt>Duration</dt>
        <dd>{formatDuration(durationOf(summary))}</dd>
        <dt>Cost</dt>
        <dd>{cost ? (cost.available ? runCostText(cost) : (cost.reason ?? '—')) : '—'}</dd>
        <dt>Max concurrent</dt>
        <dd>{r.maxConcurrent ?? 'backend limit'}</dd>
        {r.git ? (
          <>
            <dt>Git</dt>
            <dd class="mono small">{`${r.git.repo}@${r.git.branch} ${r.git.sha.slice(0, 12)}`}</dd>
          </>
        ) : null}
        <dt>Log directory</dt>
        <dd class="mono small">{r.logDir}</dd>
        <dt>Origin</dt>
        <dd>
          {r.origin.kind === 'rerun' ? (
            <a href={`/runs/${r.origin.fromRunId}`}>{`rerun (${r.origin.mode}) of ${r.origin.fromRunId}`}</a>
          ) : (
            r.origin.kind
          )}
        </dd>
      </dl>
    </div>
  );
};

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
            const why = t.error ?? pendingExplanation(t, depStates);
            return (
              <>
                {header}
                <tr data-task={t.spec.id} data-state={t.state}>
                  <td class="mono">
                    <a href={`/runs/${runId}/tasks/${encodeURIComponent(t.spec.id)}`}>{t.spec.id}</a>
                  </td>
                  <td>{t.spec.name}</td>
                  <td>
                    <Pill state={t.state} title={why} />
                  </td>
                  <td class="small">{why ?? ''}</td>
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

function tickStep(spanMs: number): number {
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
  const start = Math.min(...timed.map((t) => Date.parse(t.submittedAt as string)));
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
              <a href={`/runs/${runId}/tasks/${encodeURIComponent(t.spec.id)}`}>{t.spec.id}</a>
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

export const RunDetailPage: FC<{
  ctx: PageContext;
  summary: RunSummary;
  cost: RunCost | null;
  groups: TaskGroup[];
  tasks: TaskRecord[];
  total: number;
  params: RunViewParams;
  depStates: Map<string, TaskState>;
}> = (p) => {
  const id = p.summary.run.id;
  return (
    <Layout title={`Run ${id}`} active="/runs" ctx={p.ctx}>
      <h1>
        {p.summary.run.workflowName} <span class="muted mono">· {id}</span>
      </h1>
      <div data-live={`/live/runs/${id}${runQueryString(p.params)}`}>
        <div id="run-summary">
          <RunSummaryPanel ctx={p.ctx} summary={p.summary} cost={p.cost} params={p.params} />
        </div>
        <Section title="Groups">
          <div id="run-groups">
            <GroupsPanel runId={id} groups={p.groups} prefix={p.params.prefix} />
          </div>
        </Section>
        <div class="tabs">
          <a
            class={p.params.view === 'tasks' ? 'active' : ''}
            href={`/runs/${id}${runQueryString({ ...p.params, view: 'tasks' })}`}
          >
            Tasks
          </a>
          <a
            class={p.params.view === 'timeline' ? 'active' : ''}
            href={`/runs/${id}${runQueryString({ ...p.params, view: 'timeline' })}`}
          >
            Timeline
          </a>
          {p.params.state || p.params.prefix ? (
            <a
              href={`/runs/${id}${runQueryString({ ...p.params, state: undefined, prefix: undefined, page: 1 })}`}
            >
              ✕ clear filter{p.params.state ? ` state=${p.params.state}` : ''}
              {p.params.prefix ? ` prefix=${p.params.prefix}` : ''}
            </a>
          ) : null}
        </div>
        <div id="run-tasks">
          {p.params.view === 'timeline' ? (
            <Timeline runId={id} tasks={p.tasks} total={p.total} params={p.params} />
          ) : (
            <TaskTable runId={id} tasks={p.tasks} total={p.total} params={p.params} depStates={p.depStates} />
          )}
        </div>
      </div>
    </Layout>
  );
};

// ---------------------------------------------------------------- task

export type TaskTab = 'stdout' | 'stderr' | 'script' | 'json' | 'history';

export const TaskInfo: FC<{ task: TaskRecord; depStates: Map<string, TaskState> }> = ({
  task,
  depStates,
}) => {
  const why = pendingExplanation(task, depStates);
  return (
    <div class="panel">
      <div class="actions" style="margin-bottom:8px">
        <Pill state={task.state} /> <span data-task-state={task.state}>{why ?? ''}</span>
      </div>
      {task.error ? <div class="notice bad">{task.error}</div> : null}
      <dl class="kv">
        <dt>Name</dt>
        <dd>{task.spec.name}</dd>
        <dt>Job id</dt>
        <dd class="mono">{task.jobId ?? '—'}</dd>
        <dt>Node</dt>
        <dd>{task.node ?? '—'}</dd>
        <dt>Exit code</dt>
        <dd>{task.exitCode ?? '—'}</dd>
        <dt>Submitted</dt>
        <dd>{fmtTime(task.submittedAt)}</dd>
        <dt>Started</dt>
        <dd>{fmtTime(task.startedAt)}</dd>
        <dt>Finished</dt>
        <dd>{fmtTime(task.finishedAt)}</dd>
        <dt>Duration</dt>
        <dd>{formatDuration(taskDuration(task))}</dd>
        <dt>Resources</dt>
        <dd>{`${task.spec.cpus} cpu · ${task.spec.memory} · ${task.spec.timeLimit} · ${task.spec.partition ?? 'default partition'}${task.spec.gres ? ` · ${task.spec.gres}` : ''}`}</dd>
        <dt>Dependencies</dt>
        <dd>
          {task.spec.deps.length === 0
            ? '—'
            : task.spec.deps.map((d) => (
                <span style="margin-right:8px">
                  <a class="mono" href={`/runs/${task.runId}/tasks/${encodeURIComponent(d)}`}>
                    {d}
                  </a>{' '}
                  {depStates.get(d) ? <Pill state={depStates.get(d) as string} /> : null}
                </span>
              ))}
        </dd>
      </dl>
    </div>
  );
};

export const TaskPage: FC<{
  ctx: PageContext;
  run: RunSummary;
  task: TaskRecord;
  tab: TaskTab;
  depStates: Map<string, TaskState>;
  log: { content: string; nextOffset: number; missing?: boolean; note?: string; error?: string } | null;
  transitions: TaskTransition[];
  json: string;
}> = (p) => {
  const base = `/runs/${p.run.run.id}/tasks/${encodeURIComponent(p.task.spec.id)}`;
  const apiBase = `/api/v1/runs/${p.run.run.id}/tasks/${encodeURIComponent(p.task.spec.id)}`;
  const tabs: [TaskTab, string][] = [
    ['stdout', 'Output'],
    ['stderr', 'Error'],
    ['script', 'Script'],
    ['json', 'JSON'],
    ['history', 'History'],
  ];
  return (
    <Layout title={`${p.task.spec.id} · ${p.run.run.id}`} active="/runs" ctx={p.ctx}>
      <h1>
        <a href={`/runs/${p.run.run.id}`}>{p.run.run.workflowName}</a> <span class="muted">/</span>{' '}
        <span class="mono">{p.task.spec.id}</span>
      </h1>
      <div data-live={`/live/runs/${p.run.run.id}/tasks/${encodeURIComponent(p.task.spec.id)}`}>
        <div id="task-info">
          <TaskInfo task={p.task} depStates={p.depStates} />
        </div>
      </div>
      <div class="tabs">
        {tabs.map(([t, label]) => (
          <a class={p.tab === t ? 'active' : ''} href={`${base}?tab=${t}`}>
            {label}
          </a>
        ))}
      </div>
      {p.tab === 'stdout' || p.tab === 'stderr' ? (
        <>
          <div class="toolbar">
            <span id="log-status" class="muted small">
              {p.log?.error ?? p.log?.note ?? (p.log?.missing ? 'no log file yet' : '')}
            </span>
            <a class="small" href={`${apiBase}/log?stream=${p.tab}`}>
              raw JSON
            </a>
          </div>
          <pre
            id="log"
            data-follow={`${apiBase}/log/follow?stream=${p.tab}&offset=${p.log?.nextOffset ?? 0}`}
            data-status="log-status"
            data-empty={p.log?.content ? '0' : '1'}
          >
            {p.log?.content || (p.log?.missing ? '(no output yet)' : '(empty)')}
          </pre>
        </>
      ) : null}
      {p.tab === 'script' ? <pre>{p.task.script ?? '(the script is generated at submission)'}</pre> : null}
      {p.tab === 'json' ? <pre class="light">{p.json}</pre> : null}
      {p.tab === 'history' ? (
        <table>
          <thead>
            <tr>
              <th>At</th>
              <th>From</th>
              <th>To</th>
              <th>Reason</th>
            </tr>
          </thead>
          <tbody>
            {p.transitions.map((t) => (
              <tr>
                <td class="small">{fmtTime(t.at)}</td>
                <td>{t.from ? <Pill state={t.from} /> : '—'}</td>
                <td>
                  <Pill state={t.to} />
                </td>
                <td class="small">{t.reason ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Layout>
  );
};

// ---------------------------------------------------------------- settings & login

export const SettingsPage: FC<{
  ctx: PageContext;
  view: { source: string; text: string | null; config: unknown };
  text: string;
  validation: { issues: Issue[]; warnings: Issue[] } | null;
  reload: ConfigReloadResult | null;
  message: string | null;
}> = (p) => (
  <Layout title="Settings" active="/settings" ctx={p.ctx}>
    <h1>Settings</h1>
    <div class="panel">
      <dl class="kv">
        <dt>Config</dt>
        <dd class="mono small">{p.view.source}</dd>
      </dl>
    </div>
    {p.message ? <div class="notice">{p.message}</div> : null}
    {p.reload ? (
      <div class={`notice ${p.reload.applied ? 'ok' : 'bad'}`}>
        <strong>{p.reload.applied ? 'Config reloaded.' : 'Config not reloaded.'}</strong>
        {p.reload.live.length ? <div>Applied live: {p.reload.live.join(', ')}</div> : null}
        {p.reload.restart.length ? <div>Needs a restart: {p.reload.restart.join(', ')}</div> : null}
        <IssueList issues={p.reload.issues} />
      </div>
    ) : null}
    {p.validation ? (
      p.validation.issues.length === 0 ? (
        <div class="notice ok">
          The configuration is valid.
          <IssueList issues={p.validation.warnings} />
        </div>
      ) : (
        <div class="notice bad">
          <strong>{p.validation.issues.length} problem(s):</strong>
          <IssueList issues={[...p.validation.issues, ...p.validation.warnings]} />
        </div>
      )
    ) : null}
    <Form action="/ui/settings/validate" ctx={p.ctx} class="panel">
      <h3>Configuration (YAML)</h3>
      <p class="muted small">
        Validate checks the text without saving it. Secrets are shown as ***. Edit the file on disk, then
        reload.
      </p>
      <textarea name="text" spellcheck={false}>
        {p.text}
      </textarea>
      <div class="actions" style="margin-top:8px">
        <button type="submit">Validate</button>
      </div>
    </Form>
    <Form action="/ui/settings/reload" ctx={p.ctx} class="panel">
      <div class="actions">
        <button type="submit" class="primary">
          Reload config from disk
        </button>
        <span class="muted small">Settings that cannot change live are listed as “needs a restart”.</span>
      </div>
    </Form>
    <h2>Effective configuration</h2>
    <pre class="light">{JSON.stringify(p.view.config, null, 2)}</pre>
  </Layout>
);

export const ErrorPage: FC<{ ctx: PageContext; status: number; message: string }> = (p) => (
  <Layout title="Error" active="" ctx={p.ctx}>
    <h1>{p.status === 404 ? 'Not found' : 'Something went wrong'}</h1>
    <div class="notice bad">{p.message}</div>
    <p>
      <a href="/">← Dashboard</a>
    </p>
  </Layout>
);
