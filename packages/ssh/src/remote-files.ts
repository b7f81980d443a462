/**
 * Reading files on the remote side of a connection, shared by the SSH backends (Slurm, PBS):
 * logs from an offset or the tail (base64 over stdout, never cutting a UTF-8 character), small
 * files with a size cap, and `$HOME` resolution. Every path goes through `shellQuotePath`.
 */
import {
  BackendError,
  type ExecResult,
  type LogChunk,
  type LogReadOptions,
  shellQuotePath,
} from '@scripthut/core';

/** Options a {@link RemoteExec} accepts (a subset of `SshConnection.exec`'s). */
export interface RemoteExecOptions {
  stdin?: string;
  timeoutMs?: number;
  /** Short text recorded in the command log instead of the command (the program is on stdin). */
  logAs?: string;
}

/**
 * Runs one command on the remote host. Backends pass their own wrapper around
 * `SshConnection.exec` so that connection errors are reported the way the backend reports them.
 */
export type RemoteExec = (command: string, options?: RemoteExecOptions) => Promise<ExecResult>;

/** Default cap of {@link readRemoteFile}: 10 MiB. */
export const MAX_REMOTE_FILE_BYTES = 10 * 1024 * 1024;

/** Shorten `s` to `n` characters (plus an ellipsis) for error messages. */
export function truncateOutput(s: string, n = 2000): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/**
 * Strip an incomplete UTF-8 sequence from the end of a buffer; returns the decodable prefix
 * (the buffer itself when it ends on a character boundary).
 */
export function completeUtf8(buf: Buffer): Buffer {
  let i = buf.length - 1;
  let back = 0;
  while (i >= 0 && back < 4 && (buf[i]! & 0xc0) === 0x80) {
    i--;
    back++;
  }
  if (i < 0) return buf;
  const lead = buf[i]!;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return need > back + 1 ? buf.subarray(0, i) : buf;
}

/**
 * Log reader program (for `bash -s`): prints `MISSING`, or `SIZE <n>`, `OFFSET <start>`,
 * `DATA <base64>` for up to `maxBytes` from `offset` (or the last `tailBytes`; else from 0).
 */
export function buildReadLogProgram(
  path: string,
  opts: { offset?: number; tailBytes?: number; maxBytes: number },
): string {
  const max = Math.max(0, Math.floor(opts.maxBytes));
  const lines = [
    `f=${shellQuotePath(path)}`,
    `if [ ! -f "$f" ]; then echo MISSING; exit 0; fi`,
    `s=$(wc -c <"$f" | tr -d ' ')`,
  ];
  if (opts.offset !== undefined) lines.push(`o=${Math.max(0, Math.floor(opts.offset))}`);
  else if (opts.tailBytes !== undefined) {
    const t = Math.max(0, Math.floor(opts.tailBytes));
    lines.push(`o=$(( s > ${t} ? s - ${t} : 0 ))`);
  } else lines.push('o=0');
  lines.push(`printf 'SIZE %s\\nOFFSET %s\\n' "$s" "$o"`);
  lines.push(`printf 'DATA %s\\n' "$(tail -c +$((o + 1)) "$f" | head -c ${max} | base64 | tr -d '\\n')"`);
  return `${lines.join('\n')}\n`;
}

/** Parsed answer of {@link buildReadLogProgram}; throws when the answer is incomplete. */
export function parseReadLogAnswer(
  stdout: string,
): { missing: true } | { missing: false; size: number; offset: number; data: Buffer } {
  if (/^MISSING$/m.test(stdout)) return { missing: true };
  const size = /^SIZE (\d+)$/m.exec(stdout);
  const offset = /^OFFSET (\d+)$/m.exec(stdout);
  const data = /^DATA ?(\S*)$/m.exec(stdout);
  if (!size || !offset || !data) throw new Error('unexpected answer from the log reader');
  return {
    missing: false,
    size: Number(size[1]),
    offset: Number(offset[1]),
    data: Buffer.from(data[1] ?? '', 'base64'),
  };
}

/**
 * Read a chunk of a remote log with one round trip. `opts.offset` wins over `opts.tailBytes`;
 * `maxBytes` defaults to 1 MiB. A chunk that cuts a multi-byte character keeps the partial bytes
 * for the next read (via `nextOffset`) unless the file ends there. A missing file (or no path)
 * answers `{ content: '', nextOffset: offset, missing: true }`; an unreadable answer throws a
 * transient {@link BackendError}.
 *
 * @example
 * ```ts
 * const chunk = await readRemoteLog(run, '/home/me/logs/t1.out', { offset: 0, maxBytes: 65536 });
 * const next = await readRemoteLog(run, '/home/me/logs/t1.out', { offset: chunk.nextOffset });
 * ```
 */
export async function readRemoteLog(
  run: RemoteExec,
  path: string | null | undefined,
  opts: LogReadOptions,
): Promise<LogChunk> {
  const offset = opts.offset ?? 0;
  if (!path) return { content: '', nextOffset: offset, missing: true };
  const maxBytes = Math.max(1, opts.maxBytes ?? 1024 * 1024);
  const r = await run('bash -s', {
    stdin: buildReadLogProgram(path, {
      offset: opts.offset,
      tailBytes: opts.offset === undefined ? opts.tailBytes : undefined,
      maxBytes,
    }),
    timeoutMs: 30_000,
    logAs: `read ${opts.offset !== undefined ? `from byte ${opts.offset} of` : opts.tailBytes !== undefined ? `last ${opts.tailBytes} bytes of` : ''} ${path}`,
  });
  let answer: ReturnType<typeof parseReadLogAnswer>;
  try {
    answer = parseReadLogAnswer(r.stdout);
  } catch (e) {
    throw new BackendError(`cannot read log ${path}: ${truncateOutput(r.stderr.trim(), 300)}`, {
      transient: true,
      cause: e,
    });
  }
  if (answer.missing) return { content: '', nextOffset: offset, missing: true };
  const atEnd = answer.offset + answer.data.length >= answer.size;
  const data = atEnd && answer.data.length < maxBytes ? answer.data : completeUtf8(answer.data);
  return { content: data.toString('utf8'), nextOffset: answer.offset + data.length };
}

/**
 * Read a small remote file (relative paths against `cwd` when given). Fails with a permanent
 * {@link BackendError} naming backend `label` when `cwd` is missing, the file is missing or it is
 * larger than `maxBytes`.
 *
 * @example
 * ```ts
 * const json = await readRemoteFile(run, 'tasks.json', '~/repos/proj', 'hpc');
 * ```
 */
export async function readRemoteFile(
  run: RemoteExec,
  path: string,
  cwd: string | null,
  label: string,
  maxBytes = MAX_REMOTE_FILE_BYTES,
): Promise<string> {
  const command = buildReadFileProgram(path, cwd, maxBytes);
  const r = await run('bash -s', { stdin: command, timeoutMs: 60_000, logAs: `read ${path}` });
  const content = r.exitCode === 0 ? parseReadFileAnswer(r.stdout) : null;
  if (content === null) {
    const why = r.exitCode === 0 ? 'the answer was incomplete' : r.stderr.trim();
    throw new BackendError(`cannot read ${path} on backend ${label}: ${truncateOutput(why, 500)}`, {
      transient: false,
      command: `read ${path}`,
      output: truncateOutput(r.stderr),
    });
  }
  return content;
}

/**
 * Program that prints a small file framed for noisy shells: `@@file <size>`, the content in
 * base64, `@@end`. Exit 2: `cwd` missing; 3: no such file; 4: larger than `maxBytes`.
 */
export function buildReadFileProgram(path: string, cwd: string | null, maxBytes: number): string {
  const max = Math.max(0, Math.floor(maxBytes));
  const lines: string[] = [];
  if (cwd) lines.push(`cd -- ${shellQuotePath(cwd)} || exit 2`);
  lines.push(
    `f=${shellQuotePath(path)}`,
    `[ -f "$f" ] || { echo "no such file: $f" >&2; exit 3; }`,
    `s=$(wc -c <"$f" | tr -d ' ')`,
    `[ "$s" -le ${max} ] || { echo "file too large: $s bytes" >&2; exit 4; }`,
    `printf '@@file %s\n' "$s"; base64 <"$f" || exit 5; printf '@@end\n'`,
  );
  return `${lines.join('\n')}\n`;
}

/** Content framed by {@link buildReadFileProgram} (UTF-8), or null when the frame is incomplete. */
export function parseReadFileAnswer(stdout: string): string | null {
  return parseFramedFile(stdout)?.toString('utf8') ?? null;
}

/**
 * The bytes of a file framed as `@@file <size>`, base64 lines, `@@end` (what the read-file
 * programs print), or null when the frame is incomplete or its size does not match.
 */
export function parseFramedFile(stdout: string): Buffer | null {
  const lines = stdout.split('\n');
  const start = lines.findIndex((l) => /^@@file \d+$/.test(l));
  if (start < 0) return null;
  const end = lines.indexOf('@@end', start + 1);
  if (end < 0) return null;
  const data = Buffer.from(lines.slice(start + 1, end).join(''), 'base64');
  return data.length === Number(lines[start]!.slice(7)) ? data : null;
}

/** The remote home directory, resolved once and cached, and path resolution against it. */
export interface RemoteHome {
  /** `$HOME` on the remote host (asked once; later calls use the cache). */
  homeDir(): Promise<string>;
  /**
   * Resolve `~`, `~/x` and relative paths against the cached home directory. Absolute paths are
   * returned as they are; before {@link RemoteHome.homeDir} succeeded, so is everything else.
   */
  resolvePath(path: string): string;
}

/**
 * Cache of the remote `$HOME` for backend `label`. A failed lookup throws a transient
 * {@link BackendError} and is retried by the next call.
 *
 * @example
 * ```ts
 * const home = remoteHome(run, 'hpc');
 * await home.homeDir();              // '/home/me'
 * home.resolvePath('~/logs/a.out');  // '/home/me/logs/a.out'
 * ```
 */
export function remoteHome(run: RemoteExec, label: string): RemoteHome {
  let home: string | null = null;
  return {
    async homeDir() {
      if (home !== null) return home;
      const r = await run(`printf '@@home %s\\n' "$HOME"`, { timeoutMs: 30_000 });
      const h = /^@@home (\/.*)$/m.exec(r.stdout)?.[1] ?? '';
      if (r.exitCode !== 0 || !h.startsWith('/')) {
        throw new BackendError(`cannot resolve the home directory on backend ${label}`, {
          transient: true,
          output: truncateOutput(r.stderr),
        });
      }
      home = h.replace(/\/+$/, '') || '/';
      return home;
    },
    resolvePath(p) {
      if (p.startsWith('/')) return p;
      if (home === null) return p;
      if (p === '~') return home;
      if (p.startsWith('~/')) return `${home}/${p.slice(2)}`;
      return `${home}/${p}`;
    },
  };
}
