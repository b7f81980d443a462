/** @jsxImportSource hono/jsx */
/** The run form's two actions: a dry run (every generated script) and starting the run. */
import { type DryRunArraySummary, dryRunArraySummary, ScriptHutError } from '@scripthut/core';
import type { DryRunResult } from '@scripthut/runtime';
import type { Context } from 'hono';
import type { FC } from 'hono/jsx';
import { fileSchema, nameSchema } from '../../schemas.js';
import { Form, fmtUsd, IssueList, Layout, type PageContext } from '../components.js';
import { formString, html, parseOr400, type UiApp, type UiContext, type UiEnv } from '../context.js';

const DRY_RUN_SCRIPT_LIMIT = 500;

/** The "Job arrays" row: the run's mode when off, else each array it would start with. */
const JobArrays: FC<{ summary: DryRunArraySummary; backendName: string }> = ({ summary, backendName }) =>
  summary.kind === 'off' ? (
    <span>
      {`off (${summary.setBy === 'workflow' ? 'the workflow sets array: off' : `backend ${backendName} has array: off`}): one job per task`}
    </span>
  ) : (
    <ul style="margin:0;padding-left:18px">
      {summary.arrays.map((a) => (
        <li>
          {`array ${a.group}: ${a.taskIds.length} tasks`}{' '}
          <span class="mono small">
            ({a.taskIds.length > 1 ? `${a.taskIds[0]} … ${a.taskIds.at(-1)}` : a.taskIds[0]})
          </span>
        </li>
      ))}
      <li>{`${summary.alone} task(s) submitted one job each`}</li>
    </ul>
  );

export const DryRunPage: FC<{
  ctx: PageContext;
  result: DryRunResult;
  form: {
    kind: string;
    name: string;
    file?: string | undefined;
    backend?: string | undefined;
    branch?: string | undefined;
    commit?: string | undefined;
  };
}> = ({ ctx, result, form }) => {
  const arrays = dryRunArraySummary(result);
  return (
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
          {arrays ? (
            <>
              <dt>Job arrays</dt>
              <dd>
                <JobArrays summary={arrays} backendName={result.backendName} />
              </dd>
            </>
          ) : null}
        </dl>
        <IssueList issues={result.warnings} />
        <div class="actions" style="margin-top:12px">
          <Form action="/ui/run" ctx={ctx}>
            <input type="hidden" name="kind" value={form.kind} />
            <input type="hidden" name="name" value={form.name} />
            {form.file ? <input type="hidden" name="file" value={form.file} /> : null}
            {form.backend ? <input type="hidden" name="backend" value={form.backend} /> : null}
            {form.branch ? <input type="hidden" name="branch" value={form.branch} /> : null}
            {form.commit ? <input type="hidden" name="commit" value={form.commit} /> : null}
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
              {t.array ? (
                <>
                  <dt>Job array</dt>
                  <dd>{`array ${t.array.group}, element ${t.array.index} of ${t.array.size}`}</dd>
                </>
              ) : null}
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
};

/** Registers `POST /ui/dry-run` and `POST /ui/run`. */
export function dryRunRoutes(ui: UiApp, x: UiContext): void {
  const { runtime, pageContext: ctxOf } = x;
  const runForm = async (c: Context<UiEnv>) => {
    const kind = parseOr400(nameSchema, (await formString(c, 'kind')) ?? 'workflow', 'kind');
    if (kind !== 'workflow' && kind !== 'source' && kind !== 'project')
      throw new ScriptHutError('validation_failed', 'invalid kind');
    const name = parseOr400(nameSchema, await formString(c, 'name'), 'name');
    const fileRaw = await formString(c, 'file');
    const file = fileRaw === undefined ? undefined : parseOr400(fileSchema, fileRaw, 'file');
    const backendRaw = await formString(c, 'backend');
    const backend = backendRaw === undefined ? undefined : parseOr400(nameSchema, backendRaw, 'backend');
    if (kind !== 'workflow' && !file) throw new ScriptHutError('validation_failed', 'file is required');
    // empty fields: the configured branch (the runtime validates both)
    const branch = (await formString(c, 'branch'))?.trim() || undefined;
    const commit = (await formString(c, 'commit'))?.trim() || undefined;
    return { kind, name, file, backend, branch, commit } as const;
  };
  const optionsOf = (f: Awaited<ReturnType<typeof runForm>>) => ({
    ...(f.backend ? { backend: f.backend } : {}),
    ...(f.branch ? { branch: f.branch } : {}),
    ...(f.commit ? { commit: f.commit } : {}),
  });
  ui.post('/ui/dry-run', async (c) => {
    const f = await runForm(c);
    const opts = optionsOf(f);
    const result =
      f.kind === 'workflow'
        ? await runtime.dryRunWorkflow(f.name, opts)
        : f.kind === 'source'
          ? await runtime.dryRunSourceWorkflow(f.name, f.file as string, opts)
          : await runtime.dryRunProjectWorkflow(f.name, f.file as string, opts);
    return c.html(await html(<DryRunPage ctx={ctxOf(c)} result={result} form={f} />));
  });
  ui.post('/ui/run', async (c) => {
    const f = await runForm(c);
    const opts = optionsOf(f);
    const summary =
      f.kind === 'workflow'
        ? await runtime.runWorkflow(f.name, opts)
        : f.kind === 'source'
          ? await runtime.runSourceWorkflow(f.name, f.file as string, opts)
          : await runtime.runProjectWorkflow(f.name, f.file as string, opts);
    return c.redirect(`/runs/${summary.run.id}`, 303);
  });
}
