/** Reading parts of local log files by byte offset without splitting UTF-8 characters. */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { LogChunk, LogReadOptions } from '@scripthut/core';

/** Default cap on the bytes returned by one read. */
export const DEFAULT_LOG_MAX_BYTES = 1024 * 1024;

/** Number of bytes at the end of `buf` that form an incomplete UTF-8 sequence. */
export function incompleteUtf8Tail(buf: Buffer): number {
  const n = buf.length;
  for (let back = 1; back <= Math.min(3, n); back++) {
    const byte = buf[n - back]!;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead byte
    const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

/** Number of continuation bytes at the start of `buf` (a read that began mid-character). */
function leadingContinuation(buf: Buffer): number {
  let i = 0;
  while (i < Math.min(3, buf.length) && (buf[i]! & 0xc0) === 0x80) i++;
  return i;
}

/**
 * Read a file from `options.offset` (follow) or its last `options.tailBytes` (tail), capped at
 * `options.maxBytes`. A missing file gives `{ missing: true }`.
 */
export function readLogFile(path: string, options: LogReadOptions): LogChunk {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR')
      return { content: '', nextOffset: options.offset ?? 0, missing: true };
    throw error;
  }
  try {
    const size = fstatSync(fd).size;
    const maxBytes = Math.max(1, options.maxBytes ?? DEFAULT_LOG_MAX_BYTES);
    let start: number;
    let fromTail = false;
    if (options.offset !== undefined) {
      start = Math.max(0, options.offset);
      // A file that shrank (rewritten) is read again from its start.
      if (start > size) start = 0;
    } else if (options.tailBytes !== undefined) {
      start = Math.max(0, size - Math.max(0, options.tailBytes));
      fromTail = start > 0;
    } else {
      start = 0;
    }
    const length = Math.min(maxBytes, size - start);
    const buf = Buffer.alloc(Math.max(0, length));
    let read = 0;
    while (read < length) {
      const n = readSync(fd, buf, read, length - read, start + read);
      if (n === 0) break;
      read += n;
    }
    let bytes = buf.subarray(0, read);
    let skip = 0;
    if (fromTail) {
      skip = leadingContinuation(bytes);
      bytes = bytes.subarray(skip);
    }
    const cut = incompleteUtf8Tail(bytes);
    bytes = bytes.subarray(0, bytes.length - cut);
    return { content: bytes.toString('utf8'), nextOffset: start + skip + bytes.length };
  } finally {
    closeSync(fd);
  }
}
