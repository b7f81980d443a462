/**
 * Everything the CLI writes goes through an {@link Output}: results to stdout (exactly one JSON
 * document with `--json`, human text otherwise), messages and progress to stderr.
 */

/** A writable text sink (process.stdout/stderr in production, a buffer in tests). */
export interface Sink {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** ANSI styles; each is the identity when colour is off. */
export interface Styles {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  blue(s: string): string;
  cyan(s: string): string;
  magenta(s: string): string;
  gray(s: string): string;
}

function sgr(open: number, close: number): (s: string) => string {
  return (s) => `\x1b[${open}m${s}\x1b[${close}m`;
}

/** Build the style set; `enabled = false` gives plain text. */
export function makeStyles(enabled: boolean): Styles {
  const id = (s: string) => s;
  if (!enabled) {
    return { bold: id, dim: id, red: id, green: id, yellow: id, blue: id, cyan: id, magenta: id, gray: id };
  }
  return {
    bold: sgr(1, 22),
    dim: sgr(2, 22),
    red: sgr(31, 39),
    green: sgr(32, 39),
    yellow: sgr(33, 39),
    blue: sgr(34, 39),
    cyan: sgr(36, 39),
    magenta: sgr(35, 39),
    gray: sgr(90, 39),
  };
}

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/**
 * Characters a terminal acts on instead of printing: C0 controls (except tab and newline), DEL,
 * C1 controls (0x80–0x9f: an 8-bit CSI is 0x9b), and the bidirectional overrides/isolates that
 * reorder what is shown ("Trojan Source").
 */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const UNSAFE_OR_LINEBREAK = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

function escapeChar(c: string): string {
  if (c === '\n') return '\\n';
  if (c === '\r') return '\\r';
  if (c === '\t') return '\\t';
  const code = c.charCodeAt(0);
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * Make text from the API (task, run and workflow names, errors, paths) safe to print on a terminal:
 * every control character becomes a visible escape (`\x1b`, `\x07`, `\u202e`), so a name cannot
 * move the cursor, clear the screen, set the window title or hide text. Tabs and newlines are kept
 * unless `singleLine` (then they are escaped too). `--json` output is never escaped: it is exact.
 *
 * @example
 * ```ts
 * escapeControl('evil\x1b[2J') // 'evil\\x1b[2J'
 * ```
 */
export function escapeControl(text: string, options: { singleLine?: boolean } = {}): string {
  return text.replace(options.singleLine ? UNSAFE_OR_LINEBREAK : UNSAFE, escapeChar);
}

/** Our own colour codes (SGR: `ESC [ n m`); everything else that is a control character is escaped. */
const SGR_OR_UNSAFE =
  /\x1b\[[0-9;]*m|[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Last line of defence for human output that was built with styles: escape every control character
 * except colour codes (with colour off, even those). Values are escaped where they are rendered
 * ({@link escapeControl}); this only catches what a renderer missed.
 */
export function escapeOutput(text: string, keepColour: boolean): string {
  return text.replace(SGR_OR_UNSAFE, (m) =>
    m.length === 1 ? escapeChar(m) : keepColour ? m : `${escapeChar(m[0] as string)}${m.slice(1)}`,
  );
}

/** Remove ANSI escape sequences. */
export function stripAnsi(s: string): string {
  return s.replace(ANSI, '');
}

/** Printed width of a string (ANSI-aware; counts code points). */
export function visibleWidth(s: string): number {
  return [...stripAnsi(s)].length;
}

/**
 * Colour decision: never with `--no-color` or a non-empty `NO_COLOR`; `FORCE_COLOR` (non-"0") forces
 * it on; otherwise only when the stream is a TTY.
 */
export function shouldColor(opts: {
  flag: boolean;
  env: NodeJS.ProcessEnv;
  isTTY: boolean | undefined;
}): boolean {
  if (!opts.flag) return false;
  if (opts.env.NO_COLOR !== undefined && opts.env.NO_COLOR !== '') return false;
  if (opts.env.FORCE_COLOR !== undefined && opts.env.FORCE_COLOR !== '0') return true;
  return opts.isTTY === true;
}

export interface OutputOptions {
  stdout: Sink;
  stderr: Sink;
  json: boolean;
  color: boolean;
}

/**
 * The output channel of one CLI invocation.
 *
 * @example
 * ```ts
 * out.result(runs, () => renderTable(...));   // JSON document or human text on stdout
 * out.info('started run 1a2b3c4d');            // stderr
 * ```
 */
export class Output {
  readonly json: boolean;
  readonly style: Styles;
  readonly stdout: Sink;
  readonly stderr: Sink;
  private resultWritten = false;

  constructor(options: OutputOptions) {
    this.json = options.json;
    this.stdout = options.stdout;
    this.stderr = options.stderr;
    this.style = makeStyles(options.color);
  }

  /** Colour on stderr follows stdout's decision (both are decided once per invocation). */
  get color(): boolean {
    return this.style.bold('x') !== 'x';
  }

  /** True once a result has been written (a second one would break the one-document rule). */
  get hasResult(): boolean {
    return this.resultWritten;
  }

  /**
   * Write the command's result: `data` as one JSON document with `--json`, else `human()` text.
   * Call at most once per invocation.
   */
  result(data: unknown, human: () => string): void {
    if (this.resultWritten) throw new Error('internal: result written twice');
    this.resultWritten = true;
    if (this.json) {
      this.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
    } else {
      const text = escapeOutput(human(), this.color);
      if (text !== '') this.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    }
  }

  /** Raw text to stdout (logs). Not allowed in JSON mode. */
  raw(text: string): void {
    this.stdout.write(text);
  }

  /** A message for people: stderr, never stdout. Control characters in it are escaped. */
  info(message: string): void {
    this.stderr.write(`${escapeControl(message)}\n`);
  }

  warn(message: string): void {
    this.stderr.write(`${this.style.yellow('warning:')} ${escapeControl(message)}\n`);
  }

  error(message: string, hint?: string): void {
    this.stderr.write(`${this.style.red(this.style.bold('error:'))} ${escapeControl(message)}\n`);
    if (hint) this.stderr.write(`${this.style.dim('hint:')} ${escapeControl(hint)}\n`);
  }
}
