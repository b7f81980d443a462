/** @jsxImportSource hono/jsx */
/**
 * The small pieces every view of the UI uses: links that survive ids no URL can carry, state pills,
 * the CSRF-carrying form and the formatting of times, dollars and bytes. Pure: data in, HTML out.
 */
import type { FC, PropsWithChildren } from 'hono/jsx';
import { CSRF_FIELD } from '../security.js';

/**
 * `encodeURIComponent` that never throws: null for text holding a lone UTF-16 surrogate (old stored
 * runs may have such task ids), which no URL can carry. Render such a value without a link.
 */
export function uriComponent(text: string): string | null {
  return /\p{Cs}/u.test(text) ? null : encodeURIComponent(text);
}

/** The page of a task, or null when its id cannot be put in a URL. */
export function taskHref(runId: string, taskId: string): string | null {
  const id = uriComponent(taskId);
  return id === null ? null : `/runs/${runId}/tasks/${id}`;
}

/** A link when there is an href, else the plain text. */
export const MaybeLink: FC<PropsWithChildren<{ href: string | null; class?: string }>> = (p) =>
  p.href === null ? (
    <span class={p.class}>{p.children}</span>
  ) : (
    <a class={p.class} href={p.href}>
      {p.children}
    </a>
  );

/** What every page needs from the request: the CSRF token of its forms and the version shown. */
export interface PageContext {
  csrf: string;
  version: string;
}

/** A POST form carrying the CSRF token. */
export const Form: FC<
  PropsWithChildren<{ action: string; ctx: PageContext; confirm?: string; class?: string }>
> = (p) => (
  <form method="post" action={p.action} class={p.class ?? 'inline'} data-confirm={p.confirm}>
    <input type="hidden" name={CSRF_FIELD} value={p.ctx.csrf} />
    {p.children}
  </form>
);

/** A state as a coloured pill (`out_of_memory` → `out of memory`). */
export const Pill: FC<{ state: string; title?: string | null }> = ({ state, title }) => (
  <span class={`pill ${state}`} title={title ?? undefined}>
    {state.replace('_', ' ')}
  </span>
);

/** An ISO time as `YYYY-MM-DD HH:MM:SS` (UTC); `—` when absent. */
export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().replace('T', ' ').slice(0, 19);
}

/** Dollars with cents (`< $0.01` for a positive amount below a cent); `—` when unknown. */
export function fmtUsd(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  return n < 0.01 && n > 0 ? '< $0.01' : `$${n.toFixed(2)}`;
}

/** Bytes in binary units (`1.5 GiB`); `—` when unknown. */
export function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
