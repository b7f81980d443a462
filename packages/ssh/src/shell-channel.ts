/**
 * Interactive PTY channels (terminals) on an SSH connection: a login shell, or one program run on a
 * pseudo-terminal (e.g. `ssh -tt <node>` from the login node). The channel is a byte stream; the
 * caller decodes UTF-8 (a multi-byte character may be split across chunks).
 */
import type { Client, ClientChannel } from 'ssh2';

/** Size and terminal type of a PTY. */
export interface ShellOptions {
  /** Columns, 1–1000. */
  cols: number;
  /** Rows, 1–1000. */
  rows: number;
  /** `TERM` announced to the server. Default `xterm-256color`. */
  term?: string;
  /**
   * Program to run on the PTY instead of the login shell (a command line for the remote login
   * shell: build it with `shellQuote`). Default: the user's login shell.
   */
  command?: string;
  /** Text shown in the command log for this terminal. Default `terminal: login shell` or the command. */
  logAs?: string;
}

/** How a terminal channel ended. */
export interface ShellExit {
  /** Exit status of the remote shell/program, null when unknown (killed, connection lost). */
  exitCode: number | null;
  /** Remote signal name when it was killed by one. */
  signal: string | null;
}

/** A live PTY channel. Output arrives through `onData`; write keystrokes with `write`. */
export interface ShellChannel {
  /** Registers the output handler (bytes, stdout and stderr of the PTY in arrival order). */
  onData(handler: (chunk: Buffer) => void): void;
  /** Sends input bytes. Returns false when the channel's buffer is full (wait for `drain`). */
  write(data: Buffer | string): boolean;
  /** Changes the PTY size (window-change request). */
  resize(cols: number, rows: number): void;
  /** Stops reading remote output (flow control: the server stops sending when the window fills). */
  pause(): void;
  /** Resumes reading after {@link pause}. */
  resume(): void;
  /** Ends the channel (the remote shell gets SIGHUP when sshd closes the PTY). Idempotent. */
  close(): void;
  /** Settles once the channel is closed, whoever closed it. */
  readonly ended: Promise<ShellExit>;
}

const TERM_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

/** Checks a PTY size; throws a RangeError naming the field. */
export function checkPtySize(cols: unknown, rows: unknown): { cols: number; rows: number } {
  for (const [name, v] of [
    ['cols', cols],
    ['rows', rows],
  ] as const) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 1000)
      throw new RangeError(`${name} must be an integer from 1 to 1000, got ${String(v)}`);
  }
  return { cols: cols as number, rows: rows as number };
}

/** Checks a `TERM` value (letters, digits, `._+-`; no spaces or control characters). */
export function checkTerm(term: string): string {
  if (!TERM_RE.test(term))
    throw new RangeError(`term must be a terminal type name, got ${JSON.stringify(term)}`);
  return term;
}

/**
 * Opens a PTY channel on a ready ssh2 client: a `shell` request, or `exec` of `options.command`
 * with a PTY. Rejects when the server refuses the channel. `onClose` runs once when it closes.
 */
export function openPtyChannel(
  client: Client,
  options: ShellOptions,
  onClose: (exit: ShellExit) => void,
): Promise<ShellChannel> {
  const { cols, rows } = checkPtySize(options.cols, options.rows);
  const term = checkTerm(options.term ?? 'xterm-256color');
  const pty = { term, cols, rows, width: 0, height: 0 };
  return new Promise((resolve, reject) => {
    const opened = (err: Error | undefined, channel: ClientChannel) => {
      if (err) {
        reject(err);
        return;
      }
      resolve(wrapChannel(channel, onClose));
    };
    try {
      if (options.command !== undefined) client.exec(options.command, { pty }, opened);
      else client.shell(pty, opened);
    } catch (e) {
      reject(e);
    }
  });
}

function wrapChannel(channel: ClientChannel, onClose: (exit: ShellExit) => void): ShellChannel {
  let handler: ((chunk: Buffer) => void) | null = null;
  const early: Buffer[] = [];
  const deliver = (chunk: Buffer) => {
    if (handler) handler(chunk);
    else early.push(chunk);
  };
  channel.on('data', deliver);
  channel.stderr.on('data', deliver);
  let exit: ShellExit = { exitCode: null, signal: null };
  channel.on('exit', (code: number | null, signal?: string) => {
    exit = { exitCode: typeof code === 'number' ? code : null, signal: signal ?? null };
  });
  let closed = false;
  const ended = new Promise<ShellExit>((resolve) => {
    channel.once('close', () => {
      closed = true;
      onClose(exit);
      resolve(exit);
    });
  });
  channel.on('error', () => {
    // 'close' follows; the error itself has nowhere useful to go
  });
  return {
    onData(h) {
      handler = h;
      for (const chunk of early.splice(0)) h(chunk);
    },
    write(data) {
      if (closed) return false;
      return channel.write(data);
    },
    resize(c, r) {
      const size = checkPtySize(c, r);
      if (!closed) channel.setWindow(size.rows, size.cols, 0, 0);
    },
    pause() {
      channel.pause();
    },
    resume() {
      channel.resume();
    },
    close() {
      if (closed) return;
      channel.close();
    },
    ended,
  };
}
