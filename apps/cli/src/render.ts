/**
 * Human renderings shared by several commands (run summaries, task tables, dry runs, costs).
 */
import { dryRunArraySummary, type Issue, type RunSummary, type TaskRecord } from '@scripthut/core';
import type { CostEstimate, DryRunResult, DryRunTask, RunCost } from '@scripthut/runtime';
import {
  durationBetween,
  formatAgo,
  formatCounts,
  formatDuration,
  formatUsd,
  progressText,
  renderFields,
  renderTable,
  styled,
  styleState,
} from './format.js';
import { escapeControl, type Styles } from './output.js';

/** Escape an API value for one line of human output. */
const e1 = (text: string) => escapeControl(text, { singleLine: true });

/** A run as the API returns it (summary plus derived fields). */
export type RunLike = RunSummary & { durationMs?: number | null };

/** Run duration from the API's `durationMs` or the summary's timestamps. */
export function runDuration(s: RunLike, now = Date.now()): string {
  if (typeof s.durationMs === 'number') return formatDuration(s.durationMs);
  const final = s.status === 'completed' || s.status === 'failed' || s.status === 'cancelled';
  return durationBetween(s.firstSubmittedAt, final ? s.lastFinishedAt : null, now);
}

/** The run list table. */
export function renderRunTable(runs: RunLike[], style: Styles, now = Date.now()): string {
  return renderTable(
    runs,
    [
      { header: 'ID', get: (r) => r.run.id },
      { header: 'STATUS', get: (r) => r.status, style: (v) => styleState(v, style) },
      { header: 'PROGRESS', get: (r) => progressText(r.counts, r.total), align: 'right' },
      { header: 'WORKFLOW', get: (r) => r.run.workflowName, max: 40 },
      { header: 'BACKEND', get: (r) => r.run.backendName },
      { header: 'CREATED', get: (r) => formatAgo(r.run.createdAt, now) },
      { header: 'DURATION', get: (r) => runDuration(r, now), align: 'right' },
    ],
    style,
    'No runs yet. Start one with `scripthut workflow run <name>` (see `scripthut workflow list`).',
  );
}

/** Header block of one run. */
export function renderRunHeader(s: RunLike, style: Styles, now = Date.now()): string {
  const r = s.run;
  const origin =
    r.origin.kind === 'rerun'
      ? `rerun (${r.origin.mode}) of ${r.origin.fromRunId}`
      : r.origin.kind === 'source'
        ? `source ${r.origin.source}, file ${r.origin.file}`
        : r.origin.kind === 'project'
          ? `project ${r.origin.project}, file ${r.origin.file}`
          : r.origin.kind;
  return [
    `${style.bold(`Run ${e1(r.id)}`)}  ${e1(r.workflowName)}  ${styleState(s.status, style)}`,
    renderFields(
      [
        ['Backend', r.backendName],
        ['Origin', origin],
        ['Created', `${formatAgo(r.createdAt, now)} (${r.createdAt})`],
        ['Duration', runDuration(s, now)],
        ['Progress', styled(`${progressText(s.counts, s.total)} — ${formatCounts(s.counts, style)}`)],
        ['Git', r.git ? `${r.git.repo} ${r.git.branch} @ ${r.git.sha.slice(0, 12)}` : null],
        ['Log dir', r.logDir],
        ['Max concurrent', r.maxConcurrent === null ? null : String(r.maxConcurrent)],
      ],
      style,
    ),
  ].join('\n');
}

/** True for a task that `--resume` completed from an earlier run's result (no job). */
export function isCachedTask(t: TaskRecord): boolean {
  return t.state === 'completed' && typeof t.meta.cached === 'object' && t.meta.cached !== null;
}
function cachedFrom(t: TaskRecord): string {
  const c = t.meta.cached as { runId?: string; taskId?: string };
  return c.taskId === t.spec.id ? String(c.runId) : `${c.runId} ${c.taskId}`;
}
/** `cached` for a reused task, else the state. */
function taskStateLabel(t: TaskRecord): string {
  return isCachedTask(t) ? 'cached' : t.state;
}

/** The tasks table of a run. */
export function renderTaskTable(tasks: TaskRecord[], style: Styles, now = Date.now()): string {
  return renderTable(
    tasks,
    [
      { header: 'TASK', get: (t) => t.spec.id, max: 40 },
      { header: 'NAME', get: (t) => t.spec.name, max: 30 },
      { header: 'STATE', get: taskStateLabel, style: (v) => styleState(v, style) },
      { header: 'JOB', get: (t) => t.jobId ?? (isCachedTask(t) ? `(run ${cachedFrom(t)})` : '-') },
      { header: 'EXIT', get: (t) => (t.exitCode === null ? '-' : String(t.exitCode)), align: 'right' },
      {
        header: 'DURATION',
        get: (t) => durationBetween(t.startedAt ?? t.submittedAt, t.finishedAt, now),
        align: 'right',
      },
      { header: 'NODE', get: (t) => t.node ?? '-' },
    ],
    style,
    '(no tasks)',
  );
}

/** Lines about failed tasks: reason and where to look. */
export function renderFailures(runId: string, tasks: TaskRecord[], style: Styles): string {
  const failed = tasks.filter((t) => t.state === 'failed' || t.state === 'dep_failed');
  if (failed.length === 0) return '';
  const lines = [style.bold(style.red('Failed tasks:'))];
  for (const t of failed.slice(0, 20)) {
    const why = t.error ?? (t.exitCode !== null ? `exit code ${t.exitCode}` : t.state);
    const look =
      t.state === 'failed' ? ` — see \`scripthut run logs ${e1(runId)} ${e1(t.spec.id)} --stderr\`` : '';
    lines.push(`  ${e1(t.spec.id)}: ${e1(why)}${look}`);
  }
  if (failed.length > 20) lines.push(`  … and ${failed.length - 20} more`);
  return lines.join('\n');
}

/** Full `run view` text. */
export function renderRunView(s: RunLike, tasks: TaskRecord[], style: Styles, now = Date.now()): string {
  const parts = [renderRunHeader(s, style, now), '', renderTaskTable(tasks, style, now)];
  const failures = renderFailures(s.run.id, tasks, style);
  if (failures) parts.push('', failures);
  return parts.join('\n');
}

/** `path: message` lines for issues. */
export function renderIssues(issues: Issue[], style: Styles, label = 'warning'): string {
  return issues
    .map((i) => {
      let where = i.file ?? '';
      if (i.line !== undefined) where += `${where ? ':' : ''}${i.line}:${i.column ?? 1}`;
      const tag = i.severity === 'error' || label === 'error' ? style.red(label) : style.yellow(label);
      return `${tag}: ${where ? `${e1(where)} ` : ''}${e1(i.path)}: ${escapeControl(i.message)}`;
    })
    .join('\n');
}

/** Cost estimate text. */
export function renderEstimate(e: CostEstimate): string {
  if (!e.available) return `Cost estimate: unavailable (${e1(e.reason ?? 'no pricing configured')})`;
  const uncosted = e.uncostedTasks > 0 ? `, ${e.uncostedTasks} task(s) without a price` : '';
  return `Cost estimate: up to ${formatUsd(e.upperBound)} ${e.currency} (${e.costedTasks} task(s) priced${uncosted})`;
}

/** Run cost text. */
export function renderRunCost(runId: string, c: RunCost): string {
  if (!c.available)
    return `Cost of run ${e1(runId)}: unavailable (${e1(c.reason ?? 'no pricing configured')})`;
  const uncosted = c.uncostedTasks > 0 ? `, ${c.uncostedTasks} task(s) without a price` : '';
  return `Cost of run ${e1(runId)}: ${formatUsd(c.total)} ${c.currency} (${c.costedTasks} task(s) priced${uncosted})`;
}

/**
 * Dry-run text: context, the tasks that would be submitted (resources, partition, log files),
 * warnings, estimate; with `scripts`, every task's job script after the table.
 */
export function renderDryRun(d: DryRunResult, style: Styles, options: { scripts?: boolean } = {}): string {
  const head = [
    `${style.bold(`Dry run of ${e1(d.workflowName)}`)} on ${e1(d.backendName)}: ${d.tasks.length} task(s), nothing submitted`,
    renderFields(
      [
        ['Log dir', d.logDir],
        ['Git', d.git ? `${d.git.repo} ${d.git.branch} @ ${d.git.sha.slice(0, 12)}` : null],
      ],
      style,
    ),
  ];
  const showGres = d.tasks.some((t) => t.task.gres);
  const table = renderTable(
    d.tasks,
    [
      { header: 'TASK', get: (t) => t.task.id, max: 40 },
      { header: 'NAME', get: (t) => t.task.name, max: 30 },
      { header: 'CPUS', get: (t) => String(t.task.cpus), align: 'right' },
      { header: 'MEMORY', get: (t) => t.task.memory, align: 'right' },
      { header: 'TIME', get: (t) => t.task.timeLimit, align: 'right' },
      { header: 'PARTITION', get: dryRunPartition, max: 30 },
      { header: 'ENV', get: (t) => t.environment?.environment ?? t.task.environment ?? '-', max: 30 },
      ...(showGres ? [{ header: 'GRES', get: (t: DryRunTask) => t.task.gres ?? '-' }] : []),
      { header: 'DEPS', get: (t) => (t.task.deps.length ? t.task.deps.join(',') : '-'), max: 40 },
      { header: 'WORKING DIR', get: (t) => t.workingDir, max: 50 },
    ],
    style,
    '(the workflow produced no tasks)',
  );
  const resume = d.tasks.some((t) => t.cache)
    ? renderTable(
        d.tasks,
        [
          { header: 'TASK', get: (t) => t.task.id, max: 40 },
          {
            header: 'RESUME',
            get: (t) =>
              t.cache?.reuseFrom
                ? `cached (run ${t.cache.reuseFrom.runId} task ${t.cache.reuseFrom.taskId})`
                : 'runs',
          },
          { header: 'WHY', get: (t) => t.cache?.reason ?? '-' },
        ],
        style,
      )
    : null;
  const logs = renderTable(
    d.tasks,
    [
      { header: 'TASK', get: (t) => t.task.id, max: 40 },
      { header: 'STDOUT', get: (t) => t.stdoutPath },
      { header: 'STDERR', get: (t) => (t.stderrPath === t.stdoutPath ? '(with stdout)' : t.stderrPath) },
    ],
    style,
  );
  const parts = [...head, '', table];
  if (resume) {
    const reused = d.tasks.filter((t) => t.cache?.reuseFrom).length;
    parts.push('', style.bold(`With --resume: ${reused} of ${d.tasks.length} task(s) reused`), resume);
  }
  if (d.tasks.length) parts.push('', style.bold('Log files:'), logs);
  const arrays = renderDryRunArrays(d, style);
  if (arrays) parts.push('', arrays);
  const envs = renderDryRunEnvironments(d, style);
  if (envs) parts.push('', envs);
  if (d.warnings.length) parts.push('', renderIssues(d.warnings, style));
  parts.push('', renderEstimate(d.estimate));
  if (options.scripts) {
    for (const t of d.tasks) {
      parts.push('', style.bold(`--- script of ${e1(t.task.id)} ---`), escapeControl(t.script).trimEnd());
    }
  } else if (d.tasks.length) {
    parts.push(style.dim('(add --scripts to print each job script)'));
  }
  return parts.join('\n');
}

/**
 * `Job arrays:` one line per array the run would submit (its size and first/last task), then how many
 * tasks go alone; `Job arrays: off (…)` when the run's mode is off; empty when no task would be in an
 * array.
 */
function renderDryRunArrays(d: DryRunResult, style: Styles): string {
  const summary = dryRunArraySummary(d);
  if (!summary) return '';
  if (summary.kind === 'off') {
    const by =
      summary.setBy === 'workflow'
        ? 'the workflow sets array: off'
        : `backend ${e1(d.backendName)} has array: off`;
    return `${style.bold('Job arrays:')} off (${by}): one job per task`;
  }
  const lines = [style.bold('Job arrays:')];
  for (const { group, taskIds: ids } of summary.arrays) {
    const span = ids.length > 1 ? `${e1(ids[0]!)} … ${e1(ids.at(-1)!)}` : e1(ids[0]!);
    lines.push(`  array ${group}: ${ids.length} tasks (${span})`);
  }
  lines.push(`  ${summary.alone} task(s) submitted one job each`);
  return lines.join('\n');
}

/** `long (cpu)` when partition_map changed the task file's partition; `-` for the scheduler default. */
function dryRunPartition(t: DryRunResult['tasks'][number]): string {
  const env = t.environment;
  const partition = env ? env.partition : t.task.partition;
  if (partition === null) return '-';
  return env?.requestedPartition ? `${partition} (${env.requestedPartition})` : partition;
}

/** Each environment the tasks use, once: its variables (with where they come from) and init. */
function renderDryRunEnvironments(d: DryRunResult, style: Styles): string {
  const seen = new Map<
    string,
    { tasks: string[]; env: NonNullable<DryRunResult['tasks'][number]['environment']> }
  >();
  for (const t of d.tasks) {
    const env = t.environment;
    if (!env || (env.variables.length === 0 && env.init.trim() === '')) continue;
    const key = `${env.environment ?? '-'}\u0000${JSON.stringify(env.variables)}`;
    const entry = seen.get(key);
    if (entry) entry.tasks.push(t.task.id);
    else seen.set(key, { tasks: [t.task.id], env });
  }
  if (seen.size === 0) return '';
  const lines = [style.bold('Environments:')];
  for (const { tasks, env } of seen.values()) {
    const shown =
      tasks.length > 5 ? `${tasks.slice(0, 5).join(', ')} and ${tasks.length - 5} more` : tasks.join(', ');
    lines.push(`  ${env.environment ?? '(task env_vars)'}${env.envRules ? ' (env rules)' : ''}: ${shown}`);
    for (const v of env.variables) lines.push(`    ${v.name}=${v.value}  ${style.dim(`# ${v.origin}`)}`);
    for (const l of env.init.split('\n').filter((x) => x.trim() !== ''))
      lines.push(`    ${style.dim('init:')} ${l}`);
  }
  return lines.join('\n');
}
