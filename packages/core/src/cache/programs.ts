/**
 * The two batched checks of the result cache, run where the backend's jobs see their files (the
 * login node over the backend's one SSH connection, or locally) through its `CommandRunner`:
 *
 * - {@link hashInputs}: SHA-256 over the sorted files each `inputs` pattern matches;
 * - {@link findMissingOutputs}: which `outputs` patterns match nothing.
 *
 * Each is ONE command for the whole batch. The programs are constant text: the working dirs and
 * patterns travel on stdin as NUL-terminated fields (never as shell text), so nothing needs
 * quoting. Patterns are bash globs (`*`, `?`, `[..]`, `**` with globstar), relative to the task's
 * working dir or absolute (`~/` = the home dir); a directory stands for every file below it.
 */
import type { CommandRunner } from '../backend.js';
import { BackendError } from '../errors.js';

/** One pattern of one task, and where it is resolved. */
export interface PatternItem {
  /** The task's resolved working dir (`~`, `~/…` or absolute). */
  workingDir: string;
  pattern: string;
}

/** The answer of {@link hashInputs} for one pattern. */
export type PatternHash =
  | { ok: true; hash: string }
  | { ok: false; problem: 'no files' | 'no working dir' | 'unreadable' };

/** Bash text written with `@{` for `${` (a template literal would interpolate `${`). */
const bash = (text: string): string => text.replaceAll('@{', '${');

const PROLOGUE = String.raw`shopt -s nullglob globstar
set -o pipefail
if command -v sha256sum >/dev/null 2>&1; then S=sha256sum; else S='shasum -a 256'; fi
while IFS= read -r -d '' i && IFS= read -r -d '' wd && IFS= read -r -d '' pat; do (
  case $wd in '~') wd=$HOME ;; '~/'*) wd=$HOME/@{wd#'~/'} ;; esac
  case $pat in '~') pat=$HOME ;; '~/'*) pat=$HOME/@{pat#'~/'} ;; esac
  cd -- "$wd" 2>/dev/null || { printf '%s\tnodir\n' "$i"; exit 0; }
  IFS=
  set -- $pat
  IFS=$' \t\n'`;

/**
 * Program: per record, `<i>\tok\t<sha256>` (hash of the `sha256sum` lines of the sorted files),
 * `<i>\tnone` (nothing matched), `<i>\tnodir` or `<i>\terror`; `END` last.
 */
export const INPUT_HASH_PROGRAM = bash(String.raw`${PROLOGUE}
  files=()
  for m in "$@"; do
    [ -e "$m" ] || continue
    case $m in /*|./*) ;; *) m=./$m ;; esac
    files+=("$m")
  done
  [ @{#files[@]} -gt 0 ] || { printf '%s\tnone\n' "$i"; exit 0; }
  d=$(find "@{files[@]}" -type f -print0 | LC_ALL=C sort -z -u | xargs -0 -r $S -- | $S) || { printf '%s\terror\n' "$i"; exit 0; }
  printf '%s\tok\t%s\n' "$i" "@{d%% *}"
); done
echo END`);

/** Program: per record, `<i>\tok` (the pattern matches an existing path) or `<i>\tmissing`; `END` last. */
export const OUTPUT_CHECK_PROGRAM = bash(String.raw`${PROLOGUE}
  for m in "$@"; do [ -e "$m" ] && { printf '%s\tok\n' "$i"; exit 0; }; done
  printf '%s\tmissing\n' "$i"
); done
echo END`);

/** The stdin of a program: `index NUL workingDir NUL pattern NUL` per item. */
export function encodePatternItems(items: readonly PatternItem[]): string {
  return items
    .map((it, i) => {
      if (it.workingDir.includes('\0') || it.pattern.includes('\0'))
        throw new Error(`NUL byte in a path: ${JSON.stringify(it.pattern)}`);
      return `${i}\0${it.workingDir}\0${it.pattern}\0`;
    })
    .join('');
}

/** Split a program's answer into index → fields; throws when it is incomplete. */
export function parseProgramAnswer(stdout: string, count: number, what: string): Map<number, string[]> {
  const lines = stdout.split('\n');
  if (!lines.includes('END')) throw new BackendError(`${what}: incomplete answer`, { transient: true });
  const out = new Map<number, string[]>();
  for (const line of lines) {
    const [i, ...fields] = line.split('\t');
    if (!i || !/^\d+$/.test(i) || !fields.length) continue;
    const n = Number(i);
    if (n < count) out.set(n, fields);
  }
  if (out.size !== count)
    throw new BackendError(`${what}: ${count - out.size} of ${count} answers missing`, { transient: true });
  return out;
}

async function runProgram(
  runner: CommandRunner,
  program: string,
  items: readonly PatternItem[],
  what: string,
): Promise<Map<number, string[]>> {
  const r = await runner.exec(program, { stdin: encodePatternItems(items), timeoutMs: 300_000 });
  if (r.exitCode !== 0)
    throw new BackendError(`${what} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 500)}`, {
      transient: true,
    });
  return parseProgramAnswer(r.stdout, items.length, what);
}

/** Content hash of each pattern, in the order given: ONE command for all of them. */
export async function hashInputs(
  runner: CommandRunner,
  items: readonly PatternItem[],
): Promise<PatternHash[]> {
  if (!items.length) return [];
  const answer = await runProgram(runner, INPUT_HASH_PROGRAM, items, 'input hashing');
  return items.map((_, i): PatternHash => {
    const [status, hash] = answer.get(i)!;
    if (status === 'ok' && hash && /^[0-9a-f]{64}$/.test(hash)) return { ok: true, hash };
    if (status === 'none') return { ok: false, problem: 'no files' };
    if (status === 'nodir') return { ok: false, problem: 'no working dir' };
    return { ok: false, problem: 'unreadable' };
  });
}

/** For each pattern, in the order given: true when it matches nothing. ONE command for all of them. */
export async function findMissingOutputs(
  runner: CommandRunner,
  items: readonly PatternItem[],
): Promise<boolean[]> {
  if (!items.length) return [];
  const answer = await runProgram(runner, OUTPUT_CHECK_PROGRAM, items, 'output check');
  return items.map((_, i) => answer.get(i)![0] !== 'ok');
}
