/**
 * Starting a command on an ssh2 connection and recording everything its channel reports.
 *
 * Why this is its own module: ssh2 parses one TCP read in a single synchronous loop and emits a
 * channel's `exit` event the moment it parses the `exit-status` request. On a busy machine one read
 * often holds the exec request's CHANNEL_SUCCESS, the output, EOF, `exit-status` and CHANNEL_CLOSE
 * together. A listener attached after an `await` runs one microtask too late: `exit` has already
 * been emitted to nobody, and the command looks like it lost its connection ("lost while running")
 * although it exited 0. {@link startExec} therefore attaches every listener synchronously inside
 * ssh2's callback, and also reads the exit status that ssh2 repeats on `close`.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Client, ClientChannel } from 'ssh2';

/** Signal numbers for the conventional `128 + n` exit code of a signalled command. */
const SIGNALS: Record<string, number> = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ABRT: 6,
  KILL: 9,
  SEGV: 11,
  PIPE: 13,
  TERM: 15,
};

/** How a command's channel ended. */
export type ExecOutcome =
  | { kind: 'exited'; stdout: string; stderr: string; exitCode: number }
  /** The channel closed without an exit status or signal: the command's fate is unknown. */
  | { kind: 'vanished'; stdout: string; stderr: string }
  | { kind: 'error'; error: Error; stderr: string };

/** Output streaming callbacks (UTF-8, split on character boundaries). */
export interface ExecStreams {
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
}

/** A started command: its outcome, and a way to end it early. */
export interface RunningExec {
  /** Settles once, when the channel closes or fails. Never rejects. */
  readonly outcome: Promise<ExecOutcome>;
  /** stderr received so far (for timeout messages). */
  stderrSoFar(): string;
  /** stdout received so far (what a killed or lost command had answered). */
  stdoutSoFar(): string;
  /** Sends `signal KILL` (OpenSSH delivers it to the session's process group) and closes. */
  kill(): void;
}

/**
 * Opens a session channel on `client`, runs `command`, writes `stdin` (or nothing) and closes
 * stdin. Resolves once the server accepted the exec request; rejects with ssh2's error when the
 * channel could not be opened or the request was refused.
 */
export function startExec(
  client: Client,
  command: string,
  stdin: string | Buffer | undefined,
  streams: ExecStreams,
): Promise<RunningExec> {
  return new Promise<RunningExec>((resolve, reject) => {
    client.exec(command, (err, channel) => {
      if (err) {
        reject(err);
        return;
      }
      // Synchronously, before any other packet of this read is dispatched: see the module comment.
      const running = watch(channel, streams);
      if (stdin !== undefined) channel.end(stdin);
      else channel.end();
      resolve(running);
    });
  });
}

function watch(channel: ClientChannel, streams: ExecStreams): RunningExec {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const outDecoder = new StringDecoder('utf8');
  const errDecoder = new StringDecoder('utf8');
  let exitCode: number | null = null;
  let signal: string | null = null;
  let settle!: (o: ExecOutcome) => void;
  let settled = false;
  const outcome = new Promise<ExecOutcome>((resolve) => {
    settle = (o) => {
      if (settled) return;
      settled = true;
      resolve(o);
    };
  });
  const noteExit = (code: unknown, sig: unknown): void => {
    if (typeof code === 'number') exitCode = code;
    else if (typeof sig === 'string' && sig !== '') signal = sig;
  };

  channel.on('data', (chunk: Buffer) => {
    out.push(chunk);
    if (streams.onStdout) {
      const text = outDecoder.write(chunk);
      if (text) streams.onStdout(text);
    }
  });
  channel.stderr.on('data', (chunk: Buffer) => {
    err.push(chunk);
    if (streams.onStderr) {
      const text = errDecoder.write(chunk);
      if (text) streams.onStderr(text);
    }
  });
  channel.on('exit', (code: unknown, sig: unknown) => noteExit(code, sig));
  channel.on('error', (e: Error) => {
    settle({ kind: 'error', error: e, stderr: Buffer.concat(err).toString('utf8') });
  });
  // ssh2 repeats the exit status on 'close' (code) or (null, signal, dump, description).
  channel.on('close', (code: unknown, sig: unknown) => {
    if (exitCode === null && signal === null) noteExit(code, sig);
    const tailOut = outDecoder.end();
    const tailErr = errDecoder.end();
    if (tailOut) streams.onStdout?.(tailOut);
    if (tailErr) streams.onStderr?.(tailErr);
    const stdout = Buffer.concat(out).toString('utf8');
    const stderr = Buffer.concat(err).toString('utf8');
    if (exitCode === null && signal === null) {
      settle({ kind: 'vanished', stdout, stderr });
      return;
    }
    const name = (signal ?? '').replace(/^SIG/, '');
    settle({ kind: 'exited', stdout, stderr, exitCode: exitCode ?? 128 + (SIGNALS[name] ?? 0) });
  });

  return {
    outcome,
    stderrSoFar: () => Buffer.concat(err).toString('utf8'),
    stdoutSoFar: () => Buffer.concat(out).toString('utf8'),
    kill: () => killChannel(channel),
  };
}

/**
 * Sends the `signal KILL` channel request and closes the channel. ssh2's `channel.signal()` is a
 * no-op once stdin is closed (always, for us), so the request then goes through the protocol
 * object.
 */
function killChannel(channel: ClientChannel): void {
  const internal = channel as unknown as {
    writable?: boolean;
    outgoing?: { id?: number; state?: string };
    _client?: { _protocol?: { signal?: (id: number, name: string) => void } };
  };
  try {
    if (internal.writable) channel.signal('KILL');
    else if (
      (internal.outgoing?.state === 'open' || internal.outgoing?.state === 'eof') &&
      typeof internal.outgoing.id === 'number'
    ) {
      internal._client?._protocol?.signal?.(internal.outgoing.id, 'KILL');
    }
  } catch {
    // the server may not support signals; closing the channel is what matters most
  }
  channel.close();
}
