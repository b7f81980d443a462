/**
 * The program of ONE job-array submission on a scheduler over SSH (Slurm `sbatch --array`, PBS Pro
 * `qsub -J`): the exit markers and log links of every element, then one submission command with the
 * array script on a quoted heredoc (answer line of index 0), and the markers removed again when the
 * scheduler refuses the array. The per-element work costs O(1) processes: markers are created with
 * shell redirections, all log links by one `perl` (a `ln` per link only where perl is missing), a
 * refusal removes every marker with one `rm`.
 */
import { shellQuote, shellQuotePath, withHeredoc } from '@scripthut/core';
import { markerCreateLine, submitAnswerLine, submitPreamble } from './remote-programs.js';

/** A symbolic link to create: `[link path, target path]`. */
export type LinkPair = readonly [link: string, target: string];

/** What {@link buildArraySubmitProgram} puts together (dialect-specific parts included). */
export interface ArraySubmitProgramSpec {
  /** The array job script, sent to `submitCommand` on a quoted heredoc. */
  script: string;
  /** Task tags of the elements: their exit markers are created before submission. */
  tags: readonly string[];
  /** Log links of the elements (see {@link symlinkLines}). */
  links: readonly LinkPair[];
  /** Directories that must exist before submission. */
  dirs: readonly string[];
  markerDir: string;
  /** Second line of the program, e.g. `cd "$HOME" || exit 90`. */
  homeLine: string;
  /** Name of the temporary directory when `mktemp` fails (`[A-Za-z0-9_-]+`). */
  tmpPrefix: string;
  /** The submission command without redirections, e.g. `sbatch --parsable` (fixed text, no input). */
  submitCommand: string;
  /** Lines run last (e.g. a check that the scheduler knows the array); `$rc` is the submit's code. */
  after?: readonly string[];
}

/**
 * The program of one array submission (see the module comment). Its answer is the `D` line of
 * {@link submitPreamble} and the answer line of index 0 ({@link submitAnswerLine}) for the
 * submission command, plus whatever `after` prints.
 *
 * @example
 * ```ts
 * const program = buildArraySubmitProgram({
 *   script, tags, links, dirs, markerDir: '~/.scripthut/markers',
 *   homeLine: 'cd "$HOME" || exit 90', tmpPrefix: 'scripthut-qsub', submitCommand: 'qsub',
 * });
 * await run('bash -s', { stdin: program });
 * ```
 */
export function buildArraySubmitProgram(spec: ArraySubmitProgramSpec): string {
  const lines = submitPreamble(spec.dirs, spec.markerDir, spec.homeLine, spec.tmpPrefix);
  for (const tag of spec.tags) lines.push(markerCreateLine(tag));
  lines.push(...symlinkLines(spec.links));
  lines.push(withHeredoc(`${spec.submitCommand} >"$T/o" 2>"$T/e"`, spec.script));
  lines.push('rc=$?');
  lines.push(submitAnswerLine(0, '"$rc"'));
  if (spec.tags.length) lines.push(`if [ "$rc" != 0 ]; then ${markersRemoveLine(spec.tags)}; fi`);
  lines.push(...(spec.after ?? []));
  return `${lines.join('\n')}\n`;
}

/**
 * Inside a submission program (which set `$M`): ONE `rm -f` of the markers of all `tags`, errors
 * silenced.
 */
export function markersRemoveLine(tags: readonly string[]): string {
  if (!tags.length) return 'true';
  return `rm -f -- ${tags.map((t) => `"$M"/${shellQuote(`${t}.rc`)}`).join(' ')} 2>/dev/null`;
}

/** Creates each link of the `target<TAB>link` lines on stdin, replacing what was there (`ln -sfn`). */
const PERL_SYMLINKS =
  'while (defined(my $l = <STDIN>)) { chomp $l; my ($t, $n) = split /\\t/, $l, 2; next unless defined $n; unlink $n; symlink($t, $n) or print STDERR "ln: cannot create symbolic link $n: $!\\n"; }';

/** A path that can travel as a field of a heredoc line: absolute, no newline or tab. */
const PLAIN_PATH = /^\/[^\n\t]*$/;

/**
 * Program lines that create the symbolic links `pairs` (each `[link, target]`, replacing an existing
 * link as `ln -sfn` does) with O(1) processes: the pairs travel as `target<TAB>link` lines of a
 * quoted heredoc read by ONE `perl`, or, where the host has no perl, by a bash loop running `ln -sfn`
 * per link. A pair that cannot be a heredoc line (a relative or `~` path, a newline or a tab in a
 * path) gets its own quoted `ln -sfn` line.
 */
export function symlinkLines(pairs: readonly LinkPair[]): string[] {
  const lines: string[] = [];
  const plain: string[] = [];
  for (const [link, target] of pairs) {
    if (PLAIN_PATH.test(link) && PLAIN_PATH.test(target)) plain.push(`${target}\t${link}`);
    else lines.push(`ln -sfn -- ${shellQuotePath(target)} ${shellQuotePath(link)}`);
  }
  if (!plain.length) return lines;
  // Every heredoc line holds a tab, so none can be the delimiter line.
  const loop = `if command -v perl >/dev/null 2>&1; then perl -e ${shellQuote(PERL_SYMLINKS)}; else while IFS=$'\\t' read -r __t __l; do ln -sfn -- "$__t" "$__l"; done; fi`;
  lines.unshift(`{ ${loop}; } <<'SCRIPTHUT_LINKS'\n${plain.join('\n')}\nSCRIPTHUT_LINKS`);
  return lines;
}
