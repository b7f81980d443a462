/**
 * Task outputs of the local backend: the output directories are on this host, so the listing walks
 * them with `lstat` (symbolic links are never followed nor listed) and stops after
 * `OUTPUT_LIMITS.maxFiles + 1` files.
 */
import { closeSync, lstatSync, openSync, readdirSync, readSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import {
  BackendError,
  boundOutputFiles,
  type CapturedSummary,
  captureSummary,
  isSafeOutputPath,
  missingOutputListing,
  OUTPUT_LIMITS,
  type OutputListing,
  type OutputListingRequest,
  TASK_SUMMARY_FILE,
} from '@scripthut/core';
import { resolveLocal } from './paths.js';

/** The first `max` bytes of a regular file (not a link), with its size; null otherwise. */
function readHead(path: string, max: number): { bytes: Buffer; size: number } | null {
  try {
    const st = lstatSync(path);
    if (!st.isFile()) return null;
    const fd = openSync(path, 'r');
    try {
      const buf = Buffer.alloc(Math.min(max, st.size));
      const n = buf.length ? readSync(fd, buf, 0, buf.length, 0) : 0;
      return { bytes: buf.subarray(0, n), size: st.size };
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
}

function summaryOf(path: string): CapturedSummary | null {
  const head = readHead(path, OUTPUT_LIMITS.maxSummaryBytes);
  return head ? captureSummary(head.bytes, head.size) : null;
}

/** List one output directory (bounded, sorted, links skipped). */
export function listLocalOutputDir(dir: string, runSummary: string): OutputListing {
  const root = resolveLocal(dir);
  const listing = missingOutputListing(summaryOf(resolveLocal(runSummary)));
  try {
    if (!lstatSync(root).isDirectory()) return listing;
  } catch {
    return listing;
  }
  const entries: { path: string; size: number; mtimeMs: number }[] = [];
  const limit = OUTPUT_LIMITS.maxFiles + 1;
  const walk = (abs: string, rel: string, depth: number) => {
    let names: string[];
    try {
      names = readdirSync(abs).sort();
    } catch {
      return;
    }
    for (const name of names) {
      if (entries.length >= limit) return;
      const childRel = rel ? `${rel}/${name}` : name;
      const childAbs = join(abs, name);
      let st: ReturnType<typeof lstatSync>;
      try {
        st = lstatSync(childAbs);
      } catch {
        continue;
      }
      if (st.isFile()) entries.push({ path: childRel, size: st.size, mtimeMs: st.mtimeMs });
      else if (st.isDirectory() && depth < OUTPUT_LIMITS.maxDepth) walk(childAbs, childRel, depth + 1);
    }
  };
  walk(root, '', 1);
  const bounded = boundOutputFiles(entries, entries.length > OUTPUT_LIMITS.maxFiles);
  return {
    ...listing,
    missing: false,
    ...bounded,
    taskSummary: summaryOf(join(root, TASK_SUMMARY_FILE)),
  };
}

/** Listings of many tasks (one pass over their directories). */
export function listLocalOutputs(requests: readonly OutputListingRequest[]): Map<string, OutputListing> {
  return new Map(requests.map((r) => [r.key, listLocalOutputDir(r.paths.dir, r.paths.runSummary)]));
}

/**
 * Read one file below an output directory. Refused: unsafe relative paths, a directory or file that
 * is a symbolic link or crosses one, files larger than `maxBytes`.
 */
export function readLocalOutputFile(dir: string, relPath: string, maxBytes: number): Buffer {
  if (!isSafeOutputPath(relPath))
    throw new BackendError(`unsafe output path: ${JSON.stringify(relPath)}`, { transient: false });
  const root = resolveLocal(dir);
  const path = join(root, relPath);
  try {
    if (!lstatSync(root).isDirectory()) throw new Error('no output directory');
    if (realpathSync(path) !== join(realpathSync(root), relPath))
      throw new Error('the path crosses a symbolic link');
  } catch (e) {
    throw new BackendError(`cannot read output ${relPath}: ${(e as Error).message}`, { transient: false });
  }
  const head = readHead(path, maxBytes + 1);
  if (!head) throw new BackendError(`cannot read output ${relPath}: no such file`, { transient: false });
  if (head.size > maxBytes)
    throw new BackendError(`output ${relPath} is too large (${head.size} bytes)`, { transient: false });
  return head.bytes;
}
