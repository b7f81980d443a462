/**
 * Cross-field checks of scripthut.yaml on the raw document, before and beside the schema: unique
 * names per section, references to defined backends, the auth token and TLS pair of a server on a
 * non-loopback address, each backend plugin's own checks, and NUL bytes anywhere. Tolerant of any
 * shape (the schema reports type errors). Env rules are checked in `env-checks.ts`.
 */
import type { BackendRegistry } from '@scripthut/core';
import { MIN_REMOTE_TOKEN_LENGTH } from './schema.js';
import { didYouMean } from './suggest.js';

/** True for `localhost`, `127.0.0.0/8` and `::1`. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/** An issue before it is located in the YAML text: the field path and the message. */
export type RawIssue = { path: PropertyKey[]; message: string };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isUnset = (v: unknown) => v === undefined || v === null;

/** Cross-field checks on the raw document; tolerant of any shape (the schema reports type errors). */
export function crossFieldIssues(raw: unknown, registry: BackendRegistry): RawIssue[] {
  if (!isObject(raw)) return [];
  const out: RawIssue[] = [];
  const list = (section: string): unknown[] => {
    const v = raw[section];
    return Array.isArray(v) ? v : [];
  };
  for (const section of ['backends', 'sources', 'workflows', 'projects', 'environments']) {
    const seen = new Map<string, number>();
    list(section).forEach((item, i) => {
      if (!isObject(item) || typeof item.name !== 'string' || item.name === '') return;
      const first = seen.get(item.name);
      if (first === undefined) seen.set(item.name, i);
      else
        out.push({
          path: [section, i, 'name'],
          message: `duplicate name "${item.name}" (already used by ${section}[${first}])`,
        });
    });
  }
  const backendNames = [
    ...new Set(
      list('backends').flatMap((b) =>
        isObject(b) && typeof b.name === 'string' && b.name !== '' ? [b.name] : [],
      ),
    ),
  ];
  for (const section of ['sources', 'workflows', 'projects']) {
    list(section).forEach((item, i) => {
      if (!isObject(item) || typeof item.backend !== 'string' || item.backend === '') return;
      if (backendNames.includes(item.backend)) return;
      const hint = didYouMean(item.backend, backendNames);
      const known =
        hint ||
        (backendNames.length
          ? ` (defined backends: ${backendNames.join(', ')})`
          : ' (no backends are defined)');
      out.push({ path: [section, i, 'backend'], message: `unknown backend "${item.backend}"${known}` });
    });
  }
  const settings = raw.settings;
  if (isObject(settings)) {
    const host = typeof settings.server_host === 'string' ? settings.server_host : '127.0.0.1';
    const token = settings.auth_token;
    if (
      typeof token === 'string' &&
      token !== '' &&
      token.length < MIN_REMOTE_TOKEN_LENGTH &&
      !isLoopbackHost(host)
    )
      out.push({
        path: ['settings', 'auth_token'],
        message: `a server on the non-loopback address "${host}" needs a token of at least ${MIN_REMOTE_TOKEN_LENGTH} characters (this one has ${token.length}); remove auth_token to use the generated one`,
      });
    const cert = !isUnset(settings.tls_cert);
    const key = !isUnset(settings.tls_key);
    if (cert !== key)
      out.push({
        path: ['settings', cert ? 'tls_key' : 'tls_cert'],
        message: 'tls_cert and tls_key go together: set both (https) or neither (http)',
      });
  }
  list('backends').forEach((b, i) => {
    if (!isObject(b) || typeof b.type !== 'string') return;
    const plugin = registry.get(b.type);
    for (const issue of plugin?.configIssues?.(b) ?? [])
      out.push({ path: ['backends', i, ...issue.path], message: issue.message });
  });
  return out;
}

/** Strings that reach a shell cannot hold a NUL byte: reject them wherever they appear. */
export function nulByteIssues(value: unknown, path: (string | number)[]): RawIssue[] {
  if (typeof value === 'string')
    return value.includes('\u0000')
      ? [{ path, message: 'contains a NUL byte, which no shell or file name can hold' }]
      : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => nulByteIssues(v, [...path, i]));
  if (value && typeof value === 'object')
    return Object.entries(value).flatMap(([k, v]) => [
      ...(k.includes('\u0000') ? [{ path: [...path, k], message: 'field name contains a NUL byte' }] : []),
      ...nulByteIssues(v, [...path, k]),
    ]);
  return [];
}
