/**
 * One `ssh` client process of the OpenSSH transport: the `bash -s` program it carries, and how it
 * is run, timed out and read (see `openssh-transport.ts`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { heredocDelimiter, shellExport, shellQuotePath } from '@scripthut/core';

/** How long the pipes of an exited client may stay open (see {@link runSsh}). */
const PIPE_GRACE_MS = 5000;

/** How one `ssh` process ended. */
export type SshOutcome =
  | { kind: 'exited'; code: number; stdout: string; stderr: string; started: boolean }
  | { kind: 'timeout'; stderr: string; started: boolean }
  /** The transport was closed while it ran. */
  | { kind: 'closed'; started: boolean }
  /** The client was killed by someone else. */
  | { kind: 'killed'; signal: string; stderr: string; started: boolean }
  | { kind: 'spawn-error'; error: Error };

/** What the program of one command is made of. */
export interface ProgramInput {
  command: string;
  /** The command's stdin, or the program itself when the command is exactly `bash -s`. */
  stdin?: string | Buffer;
  cwd?: string;
  env?: Record<string, string>;
}

/**
 * The program for the remote `bash -s`: the begin marker on stdout and stderr, the exports, `cd`
 * (`~/` expanded remotely), then the stdin program verbatim (command `bash -s`), or the command
 * with its stdin decoded from base64 in a heredoc (`/dev/null` when there is none, so it never
 * reads the rest of the program).
 */
export function sshProgram(input: ProgramInput, marker: string): string {
  const lines = [`printf '%s\\n' '${marker}'; printf '%s\\n' '${marker}' >&2`];
  for (const [k, v] of Object.entries(input.env ?? {})) lines.push(shellExport(k, v));
  if (input.cwd !== undefined) lines.push(`cd ${shellQuotePath(input.cwd)} || exit $?`);
  const stdin = input.stdin;
  if (stdin !== undefined && input.command.trim() === 'bash -s') {
    lines.push((typeof stdin === 'string' ? stdin : stdin.toString('utf8')).replace(/\n+$/, ''));
  } else if (stdin === undefined || Buffer.byteLength(stdin) === 0) {
    lines.push(`{\n${input.command}\n} </dev/null`);
  } else {
    const b64 = Buffer.from(stdin)
      .toString('base64')
      .replace(/(.{76})/g, '$1\n');
    const delim = heredocDelimiter(b64, 'SCRIPTHUT_STDIN');
    lines.push(`{\n${input.command}\n} < <(base64 -d <<'${delim}'\n${b64}\n${delim}\n)`);
  }
  return `${lines.join('\n')}\n`;
}

/** Drops everything up to and including the line holding `marker`; unchanged when it is absent. */
export function afterMarker(text: string, marker: string): { text: string; started: boolean } {
  const at = text.indexOf(marker);
  if (at < 0) return { text, started: false };
  const eol = text.indexOf('\n', at + marker.length);
  return { text: eol < 0 ? '' : text.slice(eol + 1), started: true };
}

/** Where {@link runSsh} registers its process, and how it learns the transport was closed. */
export interface SshProcessHost {
  sshCommand: string;
  running: Set<ChildProcess>;
  isClosed(): boolean;
}

/**
 * Spawns `ssh args` (argv, no local shell), writes `stdin`, and waits at most `timeoutMs`: then
 * the client is terminated (the remote side ends under its own `timeout`). With a `marker`,
 * output before it is dropped and `started` tells whether it was seen on stderr.
 *
 * The master holds the client's stdio while the remote command runs (the client passes its file
 * descriptors to the master), so a killed client's pipes stay open: once the client process has
 * exited, the pipes get {@link PIPE_GRACE_MS} to close, then they are destroyed.
 */
export function runSsh(
  host: SshProcessHost,
  args: string[],
  stdin: string,
  timeoutMs: number,
  marker: string | null,
): Promise<SshOutcome> {
  return new Promise<SshOutcome>((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(host.sshCommand, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (err) {
      resolve({ kind: 'spawn-error', error: err as Error });
      return;
    }
    host.running.add(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let settled = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    const timers: NodeJS.Timeout[] = [];
    const frame = (chunks: Buffer[]) => {
      const text = Buffer.concat(chunks).toString('utf8');
      return marker === null ? { text, started: false } : afterMarker(text, marker);
    };
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      for (const t of timers) clearTimeout(t);
      host.running.delete(child);
      return true;
    };
    const conclude = () => {
      if (!settle()) return;
      child.stdout!.destroy();
      child.stderr!.destroy();
      child.stdin!.destroy();
      const e = frame(err);
      if (timedOut) return resolve({ kind: 'timeout', stderr: e.text, started: e.started });
      if (host.isClosed()) return resolve({ kind: 'closed', started: e.started });
      const code = exit?.code ?? null;
      if (code === null)
        return resolve({ kind: 'killed', signal: String(exit?.signal), stderr: e.text, started: e.started });
      resolve({ kind: 'exited', code, stdout: frame(out).text, stderr: e.text, started: e.started });
    };
    timers.push(
      setTimeout(() => {
        timedOut = true;
        child.kill('SIGTERM');
        const kill = setTimeout(() => child.kill('SIGKILL'), 2000);
        kill.unref();
        timers.push(kill);
      }, timeoutMs),
    );
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    child.stdin!.on('error', () => {
      // ssh exited before reading all of stdin: its exit status tells what happened
    });
    child.on('error', (e) => {
      if (settle()) resolve({ kind: 'spawn-error', error: e });
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      if (timedOut || host.isClosed()) return conclude();
      const grace = setTimeout(conclude, PIPE_GRACE_MS);
      grace.unref();
      timers.push(grace);
    });
    child.on('close', (code, signal) => {
      exit ??= { code, signal };
      conclude();
    });
    child.stdin!.end(stdin);
  });
}
