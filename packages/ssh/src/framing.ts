/**
 * How a command reaches bash on the remote side whatever the user's login shell is, and how its
 * answer is told apart from what that shell prints first.
 *
 * sshd runs every command through the user's login shell (`$SHELL -c '<command>'`). That shell may
 * be tcsh or zsh, and it reads rc files first (`~/.bashrc` for bash over SSH, `~/.cshrc`,
 * `~/.zshenv`) that may print banners or `module` messages. So:
 *
 * - the command line sent over SSH is a fixed {@link BOOTSTRAP_COMMAND} that every common login
 *   shell (sh, bash, zsh, csh/tcsh, fish) parses the same way: no newline, no `!`, one single-quoted
 *   argument. It replaces the login shell with `/bin/bash --noprofile --norc`, which reads the real
 *   program from stdin and evaluates it;
 * - the program first prints a begin marker with a per-call nonce on stdout and on stderr; whatever
 *   arrives before it (rc-file noise) is dropped by {@link OutputFramer}.
 */
import { randomBytes } from 'node:crypto';
import { heredocDelimiter, shellExport, shellQuotePath } from '@scripthut/core';

/**
 * The command line every SSH exec sends. `p=$(cat; printf .)` reads the whole program (the `.`
 * keeps trailing newlines), then `eval` runs it in this bash; the program never shares stdin with
 * the commands it runs.
 */
export const BOOTSTRAP_COMMAND = `exec /bin/bash --noprofile --norc -c 'p=$(cat; printf .) && eval "\${p%.}"'`;

/** What {@link frameProgram} needs. */
export interface FrameInput {
  /** The command (bash). `bash -s` with `stdin` means: the program is `stdin` itself. */
  command: string;
  stdin?: string | Buffer;
  cwd?: string;
  env?: Record<string, string>;
  /** Marker nonce (random by default; fixed in tests). */
  nonce?: string;
}

/** A framed program and the marker that starts its output. */
export interface FramedProgram {
  /** The text to write to the bootstrap's stdin. */
  program: string;
  /** The begin-marker line (without newline) printed on stdout and stderr. */
  marker: string;
}

/** True when `command` means "the program is on stdin" (the batch backends' idiom). */
export function isStdinProgram(command: string, stdin: string | Buffer | undefined): boolean {
  return stdin !== undefined && command.trim() === 'bash -s';
}

/**
 * Build the program for the bootstrap bash: begin markers, `export`s, `cd -- <cwd> || exit`, then
 * either the stdin program verbatim (`bash -s` + stdin) or `{ <command>; }` with its stdin (base64
 * in a heredoc, decoded into the command's stdin; `/dev/null` when there is none).
 */
export function frameProgram(input: FrameInput): FramedProgram {
  const nonce = input.nonce ?? randomBytes(8).toString('hex');
  if (!/^[0-9a-z]+$/.test(nonce)) throw new Error('invalid marker nonce');
  const marker = `@@SCRIPTHUT-BEGIN-${nonce}@@`;
  const lines = [`printf '%s\\n' '${marker}'; printf '%s\\n' '${marker}' >&2`];
  for (const [k, v] of Object.entries(input.env ?? {})) lines.push(shellExport(k, v));
  if (input.cwd !== undefined) lines.push(`cd -- ${shellQuotePath(input.cwd)} || exit $?`);
  if (isStdinProgram(input.command, input.stdin)) {
    const text = typeof input.stdin === 'string' ? input.stdin : input.stdin!.toString('utf8');
    lines.push(text.replace(/\n+$/, ''));
  } else if (input.stdin === undefined) {
    lines.push(`{\n${input.command}\n} </dev/null`);
  } else {
    const b64 = Buffer.from(input.stdin).toString('base64');
    const wrapped = b64.replace(/(.{76})/g, '$1\n');
    const delim = heredocDelimiter(wrapped, 'SCRIPTHUT_STDIN');
    lines.push(`{\n${input.command}\n} < <(base64 -d <<'${delim}'\n${wrapped}\n${delim}\n)`);
  }
  return { program: `${lines.join('\n')}\n`, marker };
}

/**
 * Drops everything up to and including the line that carries `marker` from a stream of text
 * (stdout or stderr of a framed program). Until the marker is seen, text is held back; when the
 * stream ends without it (bash never started), everything is passed through unchanged.
 */
export class OutputFramer {
  private held = '';
  private open = false;

  constructor(private readonly marker: string) {}

  /** True once the marker has been seen. */
  get started(): boolean {
    return this.open;
  }

  /** Feed a chunk; returns the part that belongs to the program's own output. */
  push(chunk: string): string {
    if (this.open) return chunk;
    this.held += chunk;
    const at = this.held.indexOf(this.marker);
    if (at < 0) return '';
    const eol = this.held.indexOf('\n', at + this.marker.length);
    if (eol < 0) return '';
    this.open = true;
    const rest = this.held.slice(eol + 1);
    this.held = '';
    return rest;
  }

  /** End of stream: the held text when the marker never came (nothing otherwise). */
  end(): string {
    if (this.open) return '';
    const rest = this.held;
    this.held = '';
    return rest;
  }

  /** Frame a complete text in one go. */
  static strip(text: string, marker: string): { text: string; started: boolean } {
    const f = new OutputFramer(marker);
    const body = f.push(text);
    return f.started ? { text: body, started: true } : { text: f.end(), started: false };
  }
}
