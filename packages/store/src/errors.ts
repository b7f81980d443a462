/**
 * Mapping of SQLite / file-system failures to `ScriptHutError('store_error')` with a message that
 * names the file and the cause.
 */
import { ScriptHutError } from '@scripthut/core';

/** Error code of a better-sqlite3 `SqliteError` or a Node system error, if any. */
export function errorCode(error: unknown): string | null {
  if (typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string') {
    return (error as { code: string }).code;
  }
  return null;
}

/** Plain-words cause of a SQLite / errno code, or null when the code is not a storage failure. */
export function describeStoreFailure(code: string, file: string): string | null {
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return `the database file ${file} is locked by another process (gave up after the busy timeout)`;
  }
  if (
    code.startsWith('SQLITE_READONLY') ||
    code === 'SQLITE_PERM' ||
    code === 'EACCES' ||
    code === 'EPERM' ||
    code === 'EROFS'
  ) {
    return `the database file ${file} is read-only (check the permissions of the file and of its directory)`;
  }
  if (
    code === 'SQLITE_FULL' ||
    code === 'ENOSPC' ||
    code === 'SQLITE_IOERR_WRITE' ||
    code === 'SQLITE_IOERR_FSYNC'
  ) {
    return `disk full while writing the database file ${file}`;
  }
  if (code.startsWith('SQLITE_CANTOPEN')) return `cannot open the database file ${file}`;
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return `the database file ${file} is not a ScriptHut database or is corrupt`;
  }
  if (code.startsWith('SQLITE_IOERR')) return `input/output error on the database file ${file}`;
  return null;
}

/**
 * Convert a thrown value into a `store_error` when it is a storage failure; constraint violations
 * become `conflict`; anything else is returned unchanged.
 */
export function toStoreError(error: unknown, file: string, operation: string): unknown {
  if (ScriptHutError.is(error)) return error;
  const code = errorCode(error);
  if (!code) return error;
  if (code.startsWith('SQLITE_CONSTRAINT')) {
    return new ScriptHutError('conflict', `${operation}: ${(error as Error).message}`, {
      cause: error,
      details: { code },
    });
  }
  const cause = describeStoreFailure(code, file);
  if (!cause) {
    if (!code.startsWith('SQLITE_')) return error;
    return new ScriptHutError('store_error', `${operation} failed on ${file}: ${(error as Error).message}`, {
      cause: error,
      details: { code, file },
    });
  }
  return new ScriptHutError('store_error', `${operation} failed: ${cause} (${code})`, {
    cause: error,
    details: { code, file },
  });
}
