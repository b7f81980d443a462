/**
 * Task outputs on the remote side (Slurm, PBS): ONE program lists the output directories of many
 * tasks (their paths travel on stdin, in the program's heredoc, never one command per task) and
 * captures the summaries' text; another reads one recorded file. Every path goes through
 * `shellQuote`/`shellQuotePath`; the answers are framed and base64-encoded so that a noisy login
 * shell or odd file names cannot confuse the parser.
 */
import {
  BackendError,
  boundOutputFiles,
  captureSummary,
  isSafeOutputPath,
  missingOutputListing,
  OUTPUT_LIMITS,
  type OutputListing,
  type OutputListingRequest,
  shellQuote,
  shellQuotePath,
  TASK_SUMMARY_FILE,
} from '@scripthut/core';
import { parseFramedFile, type RemoteExec, truncateOutput } from './remote-files.js';

/** Paths that can travel as one heredoc line (no newline, tab or NUL). */
const LINE_SAFE = /^[^\n\r\t\0]+$/;

/**
 * The listing program for `bash -s`. For request `i` it prints `@@o <i>`, then `M` (no output
 * directory, or it is a symbolic link) or `F <base64>` (NUL-terminated `<size>\t<mtime>\t<path>`
 * records from `find -printf`, at most `maxFiles + 1`), then `T <size> <base64>` / `R <size>
 * <base64>` for the task summary and the run-summary fragment when they exist (the first
 * `maxSummaryBytes` bytes), and `@@done` at the end. Requests whose paths cannot be written on one
 * line are answered `M` without a lookup.
 */
export function buildListOutputsProgram(
  requests: readonly { paths: { dir: string; runSummary: string } }[],
): string {
  const rows: string[] = [];
  requests.forEach((r, i) => {
    if (LINE_SAFE.test(r.paths.dir) && LINE_SAFE.test(r.paths.runSummary))
      rows.push(`${i}\t${r.paths.dir}\t${r.paths.runSummary}`);
    else rows.push(`${i}\t\t`);
  });
  const max = OUTPUT_LIMITS.maxSummaryBytes;
  const home = (v: string) => `case $${v} in '~') ${v}=$HOME ;; '~/'*) ${v}="$HOME/\${${v}#'~/'}" ;; esac`;
  const summary = (letter: string, file: string) =>
    `if [ -f "${file}" ] && [ ! -L "${file}" ]; then printf '${letter} %s ' "$(wc -c <"${file}" | tr -d ' ')"; head -c ${max} -- "${file}" | base64 | tr -d '\\n'; echo; fi`;
  return [
    "while IFS=$(printf '\\t') read -r -u 3 i d r; do",
    `  printf '@@o %s\\n' "$i"`,
    `  ${home('d')}; ${home('r')}`,
    '  if [ -n "$d" ] && [ -d "$d" ] && [ ! -L "$d" ]; then',
    `    printf 'F '; find "$d" -mindepth 1 -maxdepth ${OUTPUT_LIMITS.maxDepth} -type f -printf '%s\\t%T@\\t%P\\0' 2>/dev/null </dev/null | head -z -n ${OUTPUT_LIMITS.maxFiles + 1} | base64 | tr -d '\\n'; echo`,
    `    ${summary('T', `$d/${TASK_SUMMARY_FILE}`)}`,
    '  else echo M; fi',
    `  if [ -n "$r" ]; then ${summary('R', '$r')}; fi`,
    `done 3<<'SCRIPTHUT_OUTPUTS'`,
    ...rows,
    'SCRIPTHUT_OUTPUTS',
    "printf '@@done\\n'",
    '',
  ].join('\n');
}

/** Raw `find` records (`<size>\t<mtime seconds>\t<path>`, NUL-terminated) → entries. */
export function parseFindRecords(data: Buffer): { path: string; size: number; mtimeMs: number }[] {
  const out: { path: string; size: number; mtimeMs: number }[] = [];
  for (const rec of data.toString('utf8').split('\0')) {
    if (!rec) continue;
    const a = rec.indexOf('\t');
    const b = a < 0 ? -1 : rec.indexOf('\t', a + 1);
    if (a < 0 || b < 0) continue;
    const size = Number(rec.slice(0, a));
    const mtimeMs = Math.round(Number(rec.slice(a + 1, b)) * 1000);
    out.push({ path: rec.slice(b + 1), size, mtimeMs });
  }
  return out;
}

/**
 * Parse the answer of {@link buildListOutputsProgram} for `count` requests. Throws when the answer
 * is incomplete (no `@@done`, or a request without its section).
 */
export function parseListOutputsAnswer(stdout: string, count: number): OutputListing[] {
  if (!/^@@done$/m.test(stdout)) throw new Error('the output listing ended early');
  const sections = new Map<number, string[]>();
  let current: string[] | null = null;
  for (const line of stdout.split('\n')) {
    const m = /^@@o (\d+)$/.exec(line);
    if (m) {
      current = [];
      sections.set(Number(m[1]), current);
    } else if (line === '@@done') current = null;
    else current?.push(line);
  }
  const out: OutputListing[] = [];
  for (let i = 0; i < count; i++) {
    const lines = sections.get(i);
    if (!lines) throw new Error(`the output listing has no answer for request ${i}`);
    const listing = missingOutputListing();
    for (const line of lines) {
      if (line.startsWith('F ') || line === 'F') {
        const entries = parseFindRecords(Buffer.from(line.slice(2), 'base64'));
        const seenAll = entries.length <= OUTPUT_LIMITS.maxFiles;
        const bounded = boundOutputFiles(entries, !seenAll);
        Object.assign(listing, { missing: false, ...bounded });
      } else {
        const s = /^([TR]) (\d+) ?(\S*)$/.exec(line);
        if (!s) continue;
        const captured = captureSummary(Buffer.from(s[3] ?? '', 'base64'), Number(s[2]));
        if (s[1] === 'T') listing.taskSummary = captured;
        else listing.runSummary = captured;
      }
    }
    out.push(listing);
  }
  return out;
}

/**
 * List the outputs of `requests` with ONE command over `run`; paths are resolved with `resolve`
 * first (`~` → the remote home). Throws a transient {@link BackendError} when the answer is
 * incomplete.
 *
 * @example
 * ```ts
 * const found = await listRemoteOutputs(run, [{ key: 'r1/t1', paths }], home.resolvePath, 'hpc');
 * found.get('r1/t1')?.files; // [{ path: 'plot.png', size: 1234, mtime: '…' }]
 * ```
 */
export async function listRemoteOutputs(
  run: RemoteExec,
  requests: readonly OutputListingRequest[],
  resolve: (path: string) => string,
  label: string,
): Promise<Map<string, OutputListing>> {
  const result = new Map<string, OutputListing>();
  if (!requests.length) return result;
  const resolved = requests.map((r) => ({
    paths: { dir: resolve(r.paths.dir), runSummary: resolve(r.paths.runSummary) },
  }));
  const r = await run('bash -s', {
    stdin: buildListOutputsProgram(resolved),
    timeoutMs: 30_000 + 500 * requests.length,
    logAs: `list the output directories of ${requests.length} task(s) (find -printf, paths on stdin)`,
  });
  let listings: OutputListing[];
  try {
    listings = parseListOutputsAnswer(r.stdout, requests.length);
  } catch (e) {
    throw new BackendError(
      `cannot list task outputs on backend ${label}: ${(e as Error).message} ${truncateOutput(r.stderr.trim(), 300)}`.trim(),
      { transient: true, cause: e },
    );
  }
  requests.forEach((req, i) => {
    result.set(req.key, listings[i]!);
  });
  return result;
}

/**
 * Program that prints one file below an output directory framed as `@@file <size>`, base64,
 * `@@end`. Exit 3: no such regular file; 4: larger than `maxBytes`; 6: the directory or a path
 * component is a symbolic link.
 */
export function buildReadOutputFileProgram(dir: string, relPath: string, maxBytes: number): string {
  if (!isSafeOutputPath(relPath)) throw new Error(`unsafe output path: ${JSON.stringify(relPath)}`);
  const max = Math.max(0, Math.floor(maxBytes));
  return [
    `d=${shellQuotePath(dir)}`,
    `p=${shellQuote(relPath)}`,
    'f="$d/$p"',
    '[ -d "$d" ] && [ ! -L "$d" ] || { echo "no output directory" >&2; exit 6; }',
    '[ -f "$f" ] && [ ! -L "$f" ] || { echo "no such file" >&2; exit 3; }',
    '[ "$(readlink -f -- "$f")" = "$(readlink -f -- "$d")/$p" ] || { echo "path crosses a symbolic link" >&2; exit 6; }',
    `s=$(wc -c <"$f" | tr -d ' ')`,
    `[ "$s" -le ${max} ] || { echo "file too large: $s bytes" >&2; exit 4; }`,
    `printf '@@file %s\\n' "$s"; base64 <"$f" || exit 5; printf '@@end\\n'`,
    '',
  ].join('\n');
}

/** Bytes framed by {@link buildReadOutputFileProgram}, or null when the frame is incomplete. */
export function parseReadOutputFileAnswer(stdout: string): Buffer | null {
  return parseFramedFile(stdout);
}

/** Read one recorded output file with one command (see {@link buildReadOutputFileProgram}). */
export async function readRemoteOutputFile(
  run: RemoteExec,
  dir: string,
  relPath: string,
  maxBytes: number,
  label: string,
): Promise<Buffer> {
  const r = await run('bash -s', {
    stdin: buildReadOutputFileProgram(dir, relPath, maxBytes),
    timeoutMs: 60_000,
    logAs: `read output file ${relPath}`,
  });
  const data = r.exitCode === 0 ? parseReadOutputFileAnswer(r.stdout) : null;
  if (!data) {
    const why = r.exitCode === 0 ? 'the answer was incomplete' : r.stderr.trim();
    throw new BackendError(`cannot read output ${relPath} on backend ${label}: ${truncateOutput(why, 300)}`, {
      transient: r.exitCode === 0,
    });
  }
  return data;
}
