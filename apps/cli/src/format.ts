/**
 * Human formatting helpers: aligned tables, durations, relative times, state colours.
 */
import type { RunStatus, StateCounts, TaskState } from '@scripthut/core';
import { escapeControl, type Styles, visibleWidth } from './output.js';

export interface Column<T> {
  header: string;
  get(row: T): string;
  /** Right-align (numbers). */
  align?: 'left' | 'right';
  /** Style applied after padding computation (colour only). */
  style?: (value: string, row: T) => string;
  /** Truncate to this many characters (ellipsis). */
  max?: number;
}

/** Truncate to `max` visible characters with an ellipsis. */
export function truncate(s: string, max: number): string {
  const chars = [...s];
  if (chars.length <= max) return s;
  return `${chars.slice(0, Math.max(0, max - 1)).join('')}…`;
}

/**
 * Render rows as an aligned table: a header line, then one line per row, columns separated by two
 * spaces, no trailing whitespace. Empty `rows` → `empty` (if given) instead. Cell values are
 * escaped ({@link escapeControl}): they come from the API.
 */
export function renderTable<T>(
  rows: readonly T[],
  columns: readonly Column<T>[],
  style: Styles,
  empty?: string,
): string {
  if (rows.length === 0 && empty !== undefined) return empty;
  const cells = rows.map((row) =>
    columns.map((c) => {
      const value = escapeControl(c.get(row).replace(/\s*\n\s*/g, ' '), { singleLine: true });
      return c.max ? truncate(value, c.max) : value;
    }),
  );
  const widths = columns.map((c, i) =>
    Math.max(visibleWidth(c.header), ...cells.map((r) => visibleWidth(r[i] ?? ''))),
  );
  const pad = (text: string, width: number, align: 'left' | 'right' | undefined) => {
    const fill = ' '.repeat(Math.max(0, width - visibleWidth(text)));
    return align === 'right' ? fill + text : text + fill;
  };
  const line = (parts: string[]) => parts.join('  ').replace(/\s+$/, '');
  const header = line(columns.map((c, i) => style.bold(pad(c.header, widths[i] ?? 0, c.align))));
  const body = cells.map((r, ri) =>
    line(
      columns.map((c, i) => {
        const padded = pad(r[i] ?? '', widths[i] ?? 0, c.align);
        if (!c.style) return padded;
        // style only the value, keep padding plain so widths stay right
        const value = r[i] ?? '';
        const styled = c.style(value, rows[ri] as T);
        return padded.replace(value, styled);
      }),
    ),
  );
  return [header, ...body].join('\n');
}

/** A field value built by our own code (may carry colours; not escaped again). */
export interface Styled {
  styled: string;
}

/** Mark text as built by ScriptHut itself (e.g. coloured counts), so {@link renderFields} keeps it. */
export function styled(text: string): Styled {
  return { styled: text };
}

/**
 * Key/value block: `key:  value`, keys aligned. Undefined/null values are skipped. Plain string
 * values are escaped ({@link escapeControl}); {@link Styled} ones are printed as they are.
 */
export function renderFields(fields: [string, string | Styled | null | undefined][], style: Styles): string {
  const present = fields
    .filter((f): f is [string, string | Styled] => f[1] !== null && f[1] !== undefined)
    .map(([k, v]) => [
      escapeControl(k, { singleLine: true }),
      typeof v === 'string' ? escapeControl(v, { singleLine: true }) : v.styled,
    ]);
  const width = Math.max(0, ...present.map(([k]) => visibleWidth(k ?? '') + 1));
  return present.map(([k, v]) => `${style.bold(`${k}:`.padEnd(width))}  ${v}`).join('\n');
}

/** `1h 2m`, `3m 4s`, `5.2s`, `120ms`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)}s`;
  const total = Math.round(s);
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  return `${m}m ${sec}s`;
}

/** Duration between two ISO times (end defaults to now), or `-`. */
export function durationBetween(
  start: string | null | undefined,
  end: string | null | undefined,
  now = Date.now(),
): string {
  if (!start) return '-';
  const a = Date.parse(start);
  const b = end ? Date.parse(end) : now;
  if (Number.isNaN(a) || Number.isNaN(b)) return '-';
  return formatDuration(b - a);
}

/** `just now`, `5s ago`, `3m ago`, `2h ago`, `4d ago`, or the date for older ones. */
export function formatAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 2) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  if (s < 30 * 86400) return `${Math.floor(s / 86400)}d ago`;
  return iso.slice(0, 10);
}

/** Colour for a task/job/run state. */
export function styleState(state: string, style: Styles): string {
  switch (state) {
    case 'completed':
      return style.green(state);
    case 'cached':
      return style.dim(style.green(state));
    case 'failed':
    case 'dep_failed':
    case 'timeout':
    case 'out_of_memory':
    case 'node_fail':
      return style.red(state);
    case 'cancelled':
      return style.magenta(state);
    case 'running':
    case 'completing':
      return style.blue(state);
    case 'submitting':
    case 'submitted':
    case 'queued':
      return style.cyan(state);
    case 'pending':
      return style.yellow(state);
    default:
      return state;
  }
}

/** Order in which state counts are shown. */
export const COUNT_ORDER: readonly TaskState[] = [
  'completed',
  'running',
  'queued',
  'submitted',
  'submitting',
  'pending',
  'failed',
  'dep_failed',
  'cancelled',
];

/** `3 completed · 1 running · 2 pending` — only non-zero states, in {@link COUNT_ORDER}. */
export function formatCounts(counts: StateCounts, style: Styles): string {
  const parts = COUNT_ORDER.filter((s) => (counts[s] ?? 0) > 0).map(
    (s) => `${counts[s]} ${styleState(s, style)}`,
  );
  return parts.length ? parts.join(' · ') : 'no tasks';
}

/** Finished tasks out of total, e.g. `3/5`. */
export function progressText(counts: StateCounts, total: number): string {
  const done = counts.completed + counts.failed + counts.dep_failed + counts.cancelled;
  return `${done}/${total}`;
}

/** True when a run status is final. */
export function isFinalStatus(status: RunStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled';
}

/** USD amount: `$0.42`, `$12.30`, `<$0.01`. */
export function formatUsd(amount: number | null): string {
  if (amount === null) return '-';
  if (amount > 0 && amount < 0.01) return '<$0.01';
  return `$${amount.toFixed(2)}`;
}
