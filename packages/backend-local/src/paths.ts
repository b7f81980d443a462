import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/** Expand a leading `~` or `~/` to the home directory of the ScriptHut process. `~user` is left alone. */
export function expandHome(path: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/')) return join(homedir(), path.slice(2));
  return path;
}

/** Expand `~`, then resolve a relative path against `base` (itself `~`-expanded; default: home). */
export function resolveLocal(path: string, base?: string | null): string {
  const p = expandHome(path);
  if (isAbsolute(p)) return p;
  return resolve(expandHome(base ?? '~'), p);
}
