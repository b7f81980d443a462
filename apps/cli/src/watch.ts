/**
 * Watching a run: a live progress view on stderr (redrawn in place on a TTY, one line per change
 * otherwise), then the final run view as the result on stdout.
 */
import type { RunSummary, StateCounts } from '@scripthut/core';
import type { CliApi } from './api.js';
import type { CliContext } from './command.js';
import { ExitCode, InterruptedError } from './errors.js';
import {
  COUNT_ORDER,
  formatCounts,
  formatDuration,
  isFinalStatus,
  progressText,
  styleState,
  truncate,
} from './format.js';
import { escapeControl, type Sink, type Styles, stripAnsi, visibleWidth } from './output.js';
import { type RunLike, renderRunView } from './render.js';

/** One progress line (no trailing newline). */
export function progressLine(
  s: RunSummary,
  style: Styles,
  opts: { bar?: boolean; elapsedMs?: number } = {},
): string {
  const parts = [
    `run ${escapeControl(s.run.id, { singleLine: true })}`,
    styleState(s.status, style),
    progressText(s.counts, s.total),
  ];
  if (opts.bar) parts.push(progressBar(s.counts, s.total, 20, style));
  parts.push(formatCounts(s.counts, style));
  if (opts.elapsedMs !== undefined) parts.push(style.dim(formatDuration(opts.elapsedMs)));
  return parts.join('  ');
}

/** `[████▒▒░░░░]`: completed solid, failures red, active dim. */
export function progressBar(counts: StateCounts, total: number, width: number, style: Styles): string {
  if (total === 0) return `[${'█'.repeat(width)}]`;
  const cells = (n: number) => Math.round((n / total) * width);
  const ok = cells(counts.completed);
  const bad = Math.min(width - ok, cells(counts.failed + counts.dep_failed + counts.cancelled));
  const active = Math.min(
    width - ok - bad,
    cells(counts.running + counts.queued + counts.submitted + counts.submitting),
  );
  const rest = Math.max(0, width - ok - bad - active);
  return `[${style.green('█'.repeat(ok))}${style.red('█'.repeat(bad))}${style.blue('▒'.repeat(active))}${'░'.repeat(rest)}]`;
}

/** A key that changes exactly when the visible state changes. */
function stateKey(s: RunSummary): string {
  return `${s.status}|${COUNT_ORDER.map((k) => s.counts[k]).join(',')}`;
}

/** Progress printer: in-place on a TTY, line per change otherwise. */
export class ProgressView {
  private lastKey = '';
  private drawn = false;
  constructor(
    private readonly sink: Sink,
    private readonly style: Styles,
    private readonly started = Date.now(),
  ) {}

  update(s: RunSummary): void {
    if (this.sink.isTTY) {
      // never wider than the terminal: a wrapped line cannot be redrawn with \r
      const width = (this.sink.columns ?? 0) - 1;
      let line = progressLine(s, this.style, { bar: true, elapsedMs: Date.now() - this.started });
      if (width > 0 && visibleWidth(line) > width) line = progressLine(s, this.style);
      if (width > 0 && visibleWidth(line) > width) line = truncate(stripAnsi(line), width);
      this.sink.write(`\r\x1b[2K${line}`);
      this.drawn = true;
      return;
    }
    const key = stateKey(s);
    if (key === this.lastKey) return;
    this.lastKey = key;
    const time = new Date().toISOString().slice(11, 19);
    this.sink.write(`[${time}] ${progressLine(s, this.style)}\n`);
  }

  /** End the in-place line. */
  finish(): void {
    if (this.drawn) this.sink.write('\n');
    this.drawn = false;
  }
}

export interface WatchOptions {
  intervalMs: number;
  /** Print the final view as the command's result (default true). */
  printResult?: boolean;
}

/**
 * Poll the run until it is final, showing progress on stderr; then print the run view (or the JSON
 * document `{ run, tasks }`). Returns the final summary. Ctrl-C stops watching (exit 130) without
 * touching the run.
 */
export async function watchRun(
  api: CliApi,
  runId: string,
  ctx: CliContext,
  options: WatchOptions,
): Promise<RunLike> {
  const view = new ProgressView(ctx.out.stderr, ctx.out.style);
  let summary: RunLike = await api.getRun(runId);
  try {
    for (;;) {
      view.update(summary);
      if (isFinalStatus(summary.status)) break;
      await ctx.sleep(options.intervalMs);
      summary = await api.getRun(runId);
    }
  } catch (e) {
    view.finish();
    if (e instanceof InterruptedError) {
      const mode = ctx.connection()?.mode;
      const where =
        mode === 'server'
          ? 'it keeps running in the ScriptHut daemon'
          : mode === 'read-only'
            ? 'it keeps running in the ScriptHut process that drives it'
            : 'its jobs keep running; ScriptHut picks it up again on its next start';
      throw new InterruptedError(
        `stopped watching run ${runId}; ${where} (\`scripthut run watch ${runId}\`)`,
      );
    }
    throw e;
  }
  view.finish();
  if (options.printResult !== false) {
    const tasks = (await api.listTasks(runId)).items;
    ctx.out.result({ ...summary, tasks }, () => renderRunView(summary, tasks, ctx.out.style));
  }
  return summary;
}

/** Exit code after a watched run: 0 when completed, 5 otherwise. */
export function exitForRun(s: RunSummary): number {
  return s.status === 'completed' ? ExitCode.ok : ExitCode.runNotCompleted;
}

/** Seconds flag → ms, with a floor so a typo cannot hammer the server. */
export function intervalMs(seconds: number | undefined, fallbackSeconds: number): number {
  return Math.max(200, Math.round((seconds ?? fallbackSeconds) * 1000));
}

/** Shared tail of every "start a run" command: report it, or watch it to the end. */
export async function reportStartedRun(
  api: CliApi,
  ctx: CliContext,
  summary: RunLike,
  options: { watch: boolean; intervalSeconds: number | undefined; inPlace?: boolean },
): Promise<number> {
  const r = summary.run;
  const e1 = (t: string) => escapeControl(t, { singleLine: true });
  const line = `${options.inPlace ? 'Rerunning in place: run' : 'Started run'} ${e1(r.id)} (${e1(r.workflowName)} on ${e1(r.backendName)}, ${summary.total} task${summary.total === 1 ? '' : 's'})`;
  if (!options.watch) {
    ctx.out.result(summary, () => `${line}\nWatch it with: scripthut run watch ${r.id}`);
    return ExitCode.ok;
  }
  ctx.out.info(line);
  const final = await watchRun(api, r.id, ctx, { intervalMs: intervalMs(options.intervalSeconds, 1) });
  return exitForRun(final);
}
