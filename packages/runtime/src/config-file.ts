/**
 * Saving the config file from the settings page: the text is written exactly as given (comments and
 * layout kept), atomically (a temporary file in the same directory, fsynced, renamed over the
 * original), after a timestamped backup of the previous file next to it, keeping the file's mode.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, copyFile, open, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** SHA-256 (hex) of a config text, used to notice that the file changed under an editor. */
export function configTextHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Puts secrets back into a text that was shown redacted. `shown` is `original` as the settings page
 * showed it (secret values replaced by `***`, line for line); every line the redaction changed is
 * remembered, and a submitted line equal to such a redacted line gets the original line back. A line
 * the user edited (e.g. a new token typed over the `***`) is kept as typed. Throws when the redaction
 * changed the number of lines (a multi-line secret), since lines can then not be matched safely.
 */
export function restoreRedactedLines(submitted: string, original: string, shown: string): string {
  const originalLines = original.split('\n');
  const shownLines = shown.split('\n');
  if (originalLines.length !== shownLines.length) {
    throw new Error('a redacted value spans several lines: edit the file itself to change it');
  }
  const restore = new Map<string, string>();
  originalLines.forEach((line, i) => {
    if (shownLines[i] !== line) restore.set(shownLines[i]!, line);
  });
  if (restore.size === 0) return submitted;
  return submitted
    .split('\n')
    .map((line) => restore.get(line) ?? line)
    .join('\n');
}

/** `scripthut.yaml.20250101T120000123Z.bak` (UTC, milliseconds). */
function backupName(path: string, now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('.', '');
  return join(dirname(path), `${basename(path)}.${stamp}.bak`);
}

/**
 * Backs `path` up next to itself, then replaces it with `text` atomically. Symlinks are followed (the
 * link stays, its target is replaced). Returns the backup's path.
 */
export async function writeConfigFileAtomically(
  path: string,
  text: string,
  now = new Date(),
): Promise<string> {
  const target = await realpath(path);
  const { mode } = await stat(target);
  const backup = backupName(target, now);
  await copyFile(target, backup, constants.COPYFILE_EXCL);
  await chmod(backup, mode & 0o7777);
  const tmp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode & 0o7777);
  try {
    await fh.chmod(mode & 0o7777); // the umask may have narrowed it
    await fh.writeFile(text, 'utf8');
    await fh.sync();
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  const dir = await open(dirname(target), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return backup;
}
