/**
 * Writing files on the remote side of a connection through a command's stdin (never a command
 * line): a file at a given path, or a temporary file that lives while a callback runs. Shared by
 * the ssh2 connection and the OpenSSH ControlMaster transport.
 */
import { BackendError, type ExecResult, shellQuote, shellQuotePath } from '@scripthut/core';
import { truncateOutput } from './remote-files.js';

/** The `exec` an upload needs (a subset of `SshConnection.exec` and `OpenSshTransport.exec`). */
export type UploadExec = (
  command: string,
  options: { stdin?: string | Buffer; logAs?: string },
) => Promise<ExecResult>;

/**
 * Writes `content` to `remotePath`: a temp file next to it is created under `umask 077`, filled
 * from stdin, chmod'ed to `mode` and renamed into place (a failure removes the temp file).
 *
 * @param endpoint - `user@host:port`, for error messages.
 * @throws BackendError (permanent) when the remote command fails.
 */
export async function uploadFile(
  exec: UploadExec,
  endpoint: string,
  remotePath: string,
  content: Buffer | string,
  mode = 0o600,
): Promise<void> {
  const modeText = (mode & 0o7777).toString(8).padStart(4, '0');
  const size = Buffer.byteLength(content);
  const script = [
    'umask 077;',
    `f=${shellQuotePath(remotePath)};`,
    'd=$(dirname -- "$f") &&',
    't=$(mktemp "$d/.scripthut-upload.XXXXXXXX") &&',
    `{ cat > "$t" && chmod ${modeText} "$t" && mv -f -- "$t" "$f"; } ||`,
    '{ rc=$?; [ -n "$t" ] && rm -f -- "$t"; exit $rc; }',
  ].join(' ');
  const logAs = `upload ${remotePath} (${size} bytes, mode ${modeText})`;
  const res = await exec(script, { stdin: content, logAs });
  if (res.exitCode !== 0) {
    throw new BackendError(`upload to ${remotePath} on ${endpoint} failed: ${res.stderr.trim()}`, {
      transient: false,
      command: logAs,
      output: truncateOutput(res.stderr),
    });
  }
}

/**
 * Uploads `content` to a fresh `mktemp` file (mode 0600) under `$TMPDIR` (default `/tmp`), runs
 * `fn` with its path and removes the file afterwards, also when `fn` throws (a failed removal is
 * reported to `onWarning`).
 *
 * @throws BackendError (permanent) when the file cannot be created; whatever `fn` throws.
 */
export async function withRemoteTempFile<T>(
  exec: UploadExec,
  endpoint: string,
  content: Buffer | string,
  fn: (remotePath: string) => Promise<T>,
  onWarning?: (message: string) => void,
): Promise<T> {
  const size = Buffer.byteLength(content);
  const logAs = `mktemp + upload (${size} bytes)`;
  const res = await exec(
    // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion
    'umask 077; f=$(mktemp "${TMPDIR:-/tmp}/scripthut.XXXXXXXXXX") && ' +
      '{ cat > "$f" && chmod 600 "$f" && printf "%s\\n" "$f"; } || { rc=$?; [ -n "$f" ] && rm -f -- "$f"; exit $rc; }',
    { stdin: content, logAs },
  );
  const path = res.stdout.trim();
  if (res.exitCode !== 0 || path === '') {
    throw new BackendError(`cannot create a temporary file on ${endpoint}: ${res.stderr.trim()}`, {
      transient: false,
      command: logAs,
      output: truncateOutput(res.stderr),
    });
  }
  try {
    return await fn(path);
  } finally {
    try {
      await exec(`rm -f -- ${shellQuote(path)}`, {});
    } catch (err) {
      onWarning?.(
        `could not remove temporary file ${path} on ${endpoint}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
}
