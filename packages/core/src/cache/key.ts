/**
 * The cache key of a task (pure): a SHA-256 over the canonical form of what determines its result.
 * Each part is hashed on its own so that a dry run can say which part changed; the key is the hash
 * of the parts. Resources (cpus, memory, time, partition...) are not part of it: a task that ran
 * with more memory produced the same result.
 */
import { hash as oneShotHash } from 'node:crypto';

/** Version of the canonical form; bump it when the canonicalisation changes (old keys stop matching). */
export const CACHE_KEY_VERSION = 1;

/** What enters a task's cache key. */
export interface CacheKeyInput {
  /** The task's command, as written. */
  command: string;
  /** The resolved environment of the job (ScriptHut's own `SCRIPTHUT_*` variables are dropped). */
  env: Readonly<Record<string, string>>;
  /** Init lines of the task's named environment (they run before the command). */
  extraInit: string;
  /** The working dir as written in the task JSON (`~`, relative or absolute). */
  workingDir: string;
  /**
   * The directory relative working dirs resolve against, when it says something about the code
   * (a source path); null for git clones, whose identity is the commit.
   */
  baseDir: string | null;
  image: string | null;
  /** The git commit of the run, or null (no git, or `cache_scope: inputs`). */
  commit: string | null;
  /** Content hash of each `inputs` pattern (see the input hashing program). */
  inputs: Readonly<Record<string, string>>;
}

/** The hashed parts of a key, named as a dry run reports them. */
export interface CacheKeyParts {
  command: string;
  environment: string;
  workingDir: string;
  image: string;
  commit: string;
  inputs: string;
}

/** The part names, in the order they are reported. */
export const CACHE_KEY_PART_NAMES: readonly (keyof CacheKeyParts)[] = [
  'command',
  'environment',
  'workingDir',
  'image',
  'commit',
  'inputs',
];

/** True for the variables ScriptHut sets itself (`SCRIPTHUT_*`, `__SCRIPTHUT_*`): never in a key. */
export function isScriptHutVariable(name: string): boolean {
  return /^_*SCRIPTHUT_/.test(name);
}

/** Hex SHA-256 of the UTF-8 bytes of `text` (one call, no Hash object per text). */
function sha256(text: string): string {
  return oneShotHash('sha256', text, 'hex');
}

/**
 * Environment part hashes of frozen environments (by extra init): a frozen environment cannot
 * change, and the engine shares one frozen environment among the tasks of a run that set no env
 * vars of their own, so its canonical text is built and hashed once, not once per task.
 */
const frozenEnvironmentHashes = new WeakMap<object, Map<string, string>>();

function environmentText(env: Readonly<Record<string, string>>, extraInit: string): string {
  const own = Object.fromEntries(Object.entries(env).filter(([k]) => !isScriptHutVariable(k)));
  return JSON.stringify([sortedEntries(own), extraInit]);
}

/** Entries sorted by name (UTF-16 code units, locale-independent). */
function sortedEntries(record: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Hash each part of a key from its canonical JSON form. With `memo` (canonical text → hash), a
 * text hashed before is not hashed again: keying many tasks of one run at once, the environment,
 * working dir, image, commit and inputs parts are usually the same text for every task.
 */
export function cacheKeyParts(input: CacheKeyInput, memo?: Map<string, string>): CacheKeyParts {
  const hash = memo
    ? (text: string) => {
        let h = memo.get(text);
        if (h === undefined) {
          h = sha256(text);
          memo.set(text, h);
        }
        return h;
      }
    : sha256;
  let environment: string | undefined;
  const frozen = Object.isFrozen(input.env);
  if (frozen) environment = frozenEnvironmentHashes.get(input.env)?.get(input.extraInit);
  if (environment === undefined) {
    environment = hash(environmentText(input.env, input.extraInit));
    if (frozen) {
      const byInit = frozenEnvironmentHashes.get(input.env) ?? new Map<string, string>();
      frozenEnvironmentHashes.set(input.env, byInit);
      byInit.set(input.extraInit, environment);
    }
  }
  return {
    command: sha256(JSON.stringify(input.command)),
    environment,
    workingDir: hash(JSON.stringify([input.workingDir, input.baseDir])),
    image: hash(JSON.stringify(input.image)),
    commit: hash(JSON.stringify(input.commit)),
    inputs: hash(JSON.stringify(sortedEntries(input.inputs))),
  };
}

/** The key: SHA-256 of the version and the parts in a fixed order. */
export function cacheKeyOf(parts: CacheKeyParts): string {
  return sha256(JSON.stringify([CACHE_KEY_VERSION, ...CACHE_KEY_PART_NAMES.map((n) => parts[n])]));
}

/** The parts that differ between two keys' parts (for "not reused: command changed"). */
export function changedParts(now: CacheKeyParts, before: CacheKeyParts): (keyof CacheKeyParts)[] {
  return CACHE_KEY_PART_NAMES.filter((n) => now[n] !== before[n]);
}
