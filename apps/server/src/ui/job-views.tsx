/** @jsxImportSource hono/jsx */
/**
 * The cluster side of the UI: the backends (cards) and the jobs their schedulers report (table, with
 * the actions on jobs ScriptHut did not start).
 */
import { formatBytes, TERMINAL_JOB_STATES } from '@scripthut/core';
import type { BackendView, JobView } from '@scripthut/runtime';
import type { FC } from 'hono/jsx';
import {
  Form,
  fmtBytes,
  fmtTime,
  MaybeLink,
  type PageContext,
  Pill,
  taskHref,
  uriComponent,
} from './primitives.js';
import { fmtPercent } from './usage.js';

/** One card per backend: connection, last poll, idle CPUs, disk, work in flight, last error. */
export const BackendCards: FC<{ backends: BackendView[] }> = ({ backends }) => (
  <div class="cards">
    {backends.length === 0 ? <div class="card muted">No backends configured.</div> : null}
    {backends.map((b) => {
      const ci = b.clusterInfo;
      return (
        <div class="card" data-backend={b.name}>
          <div class="title">
            <span>
              <MaybeLink href={uriComponent(b.name) === null ? null : `/backends/${uriComponent(b.name)}`}>
                {b.name}
              </MaybeLink>{' '}
              <span class="muted small">{b.type}</span>
            </span>
            <Pill state={b.health.connected ? 'ok' : 'bad'} />
          </div>
          <dl class="kv">
            <dt>Endpoint</dt>
            <dd class="mono small">{b.health.endpoint || '—'}</dd>
            <dt>Last poll</dt>
            <dd>
              {b.lastPollAt ? `${fmtTime(b.lastPollAt)}` : 'not yet'}
              {b.lastPollDurationMs !== null ? (
                <span class="muted small"> ({b.lastPollDurationMs} ms)</span>
              ) : null}
            </dd>
            <dt>CPUs idle</dt>
            <dd>{ci && ci.cpusTotal !== null ? `${ci.cpusIdle ?? '?'} / ${ci.cpusTotal}` : '—'}</dd>
            <dt>Disk</dt>
            <dd>
              {ci?.disk ? `${fmtBytes(ci.disk.availableBytes)} free of ${fmtBytes(ci.disk.totalBytes)}` : '—'}
            </dd>
            <dt>In flight</dt>
            <dd>
              {b.inFlight} / {b.maxConcurrent}
            </dd>
            {b.lastError || b.health.lastError ? (
              <>
                <dt>Error</dt>
                <dd class="small" style="color:var(--bad)">
                  {b.lastError ?? b.health.lastError}
                </dd>
              </>
            ) : null}
          </dl>
        </div>
      );
    })}
  </div>
);

/** The scheduler's jobs (ScriptHut's and external ones), with accounting figures and actions. */
export const JobsTable: FC<{ jobs: JobView[]; ctx?: PageContext }> = ({ jobs, ctx }) =>
  jobs.length === 0 ? (
    <div class="panel empty">No jobs in the last hours.</div>
  ) : (
    <table>
      <thead>
        <tr>
          <th>Job ID</th>
          <th>Name</th>
          <th>Workflow / run</th>
          <th>User</th>
          <th>State</th>
          <th>Backend</th>
          <th>Resources</th>
          <th title="CPU time / (elapsed × CPUs), from accounting">CPU eff.</th>
          <th title="Peak resident memory, from accounting">MaxRSS</th>
          <th>Submitted</th>
          {ctx ? <th /> : null}
        </tr>
      </thead>
      <tbody>
        {jobs.map((j) => (
          <tr>
            <td class="mono">{j.jobId ?? '—'}</td>
            <td>
              {j.runId && j.taskId ? (
                <MaybeLink href={taskHref(j.runId, j.taskId)}>{j.name}</MaybeLink>
              ) : (
                j.name
              )}
            </td>
            <td>
              {j.runId ? (
                <a href={`/runs/${j.runId}`}>{`${j.workflowName ?? ''} · ${j.runId}`}</a>
              ) : (
                <span class="muted">external</span>
              )}
            </td>
            <td>{j.user ?? '—'}</td>
            <td>
              <Pill state={j.state} title={j.reason} />
            </td>
            <td>{j.backend}</td>
            <td class="small">
              {[j.partition, j.cpus !== null ? `${j.cpus} cpu` : null, j.memory, j.timeLimit]
                .filter(Boolean)
                .join(' · ') || '—'}
            </td>
            <td class="small num">{fmtPercent(j.cpuEfficiency ?? null)}</td>
            <td class="small num">{j.maxRssBytes != null ? formatBytes(j.maxRssBytes) : '—'}</td>
            <td class="small">{fmtTime(j.submittedAt)}</td>
            {ctx ? (
              <td>
                <ExternalJobActions job={j} ctx={ctx} own={j.own === true} />
              </td>
            ) : null}
          </tr>
        ))}
      </tbody>
    </table>
  );

/** Job states after which a job does not run any more (core's list; read as strings for TaskState | JobState). */
const ENDED_JOB_STATES: ReadonlySet<string> = TERMINAL_JOB_STATES;

/** Forget (finished jobs) and Cancel (your own active jobs that ScriptHut did not start). */
export const ExternalJobActions: FC<{ job: JobView; ctx: PageContext; own: boolean }> = ({
  job,
  ctx,
  own,
}) => {
  if (!job.jobId) return null;
  const base = `/jobs/${encodeURIComponent(job.backend)}/${encodeURIComponent(job.jobId)}`;
  if (ENDED_JOB_STATES.has(job.state))
    return (
      <Form action={`${base}/forget`} ctx={ctx}>
        <button type="submit" data-forget={job.jobId}>
          Forget
        </button>
      </Form>
    );
  return own && job.kind === 'external' ? (
    <Form action={`${base}/cancel`} ctx={ctx} confirm={`Cancel job ${job.jobId} (${job.name})?`}>
      <button type="submit" data-cancel={job.jobId}>
        Cancel
      </button>
    </Form>
  ) : null;
};
