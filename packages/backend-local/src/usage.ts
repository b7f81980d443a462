/**
 * Usage of local jobs. A job's bash runs under GNU time (`/usr/bin/time -f … -o <jobId>.usage`),
 * which waits for it with wait4(2) and writes the rusage of the whole process tree the script
 * waited for: wall time, user + system CPU time, and the peak RSS of the largest process. Without
 * GNU time the job runs as before and its usage is reported unavailable (with that reason).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { UsageReport } from '@scripthut/core';

/** Output format given to GNU time: elapsed, user, system (seconds), max RSS (KiB). */
export const TIME_FORMAT = 'scripthut-usage %e %U %S %M';
/** Where GNU time is looked for. */
export const GNU_TIME_PATH = '/usr/bin/time';

let gnuTime: string | null | undefined;

/** Path of GNU time when installed (checked once), else null (BSD/busybox time lack `-f`/`-o`). */
export function findGnuTime(path = GNU_TIME_PATH): string | null {
  if (path === GNU_TIME_PATH && gnuTime !== undefined) return gnuTime;
  let found: string | null = null;
  if (existsSync(path)) {
    try {
      const out = execFileSync(path, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      if (/GNU/i.test(out)) found = path;
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string };
      if (/GNU/i.test(`${err.stdout ?? ''}${err.stderr ?? ''}`)) found = path;
    }
  }
  if (path === GNU_TIME_PATH) gnuTime = found;
  return found;
}

/** The figures of a GNU time output file (its last `scripthut-usage` line), or null. */
export function parseTimeOutput(
  text: string,
): { elapsedSec: number; cpuTimeSec: number; maxRssBytes: number | null } | null {
  const lines = text.split('\n').filter((l) => l.startsWith('scripthut-usage '));
  const m = /^scripthut-usage (\d+(?:\.\d+)?) (\d+(?:\.\d+)?) (\d+(?:\.\d+)?) (\d+)$/.exec(
    (lines[lines.length - 1] ?? '').trim(),
  );
  if (!m) return null;
  const rssKiB = Number(m[4]);
  return {
    elapsedSec: Number(m[1]),
    cpuTimeSec: Math.round((Number(m[2]) + Number(m[3])) * 1000) / 1000,
    maxRssBytes: rssKiB > 0 ? rssKiB * 1024 : null,
  };
}

/** What the local backend knows about a job when asked for its usage. */
export interface LocalUsageFacts {
  jobId: string;
  /** Spool record fields. */
  record: {
    submittedAt: string;
    cpus: number;
    memoryMiB?: number | null;
    usagePath?: string | null;
    cancelledAt?: string | null;
  } | null;
  /** End time of the job (exit marker mtime), null while it runs. */
  endedAt: string | null;
  /** True while the job's process (GNU time or bash) is alive. */
  alive: boolean;
  node: string;
}

/** Usage report of one local job. */
export function localUsage(f: LocalUsageFacts): UsageReport {
  if (!f.record) return { kind: 'unavailable', reason: `job ${f.jobId} is not in the spool directory` };
  if (!f.record.usagePath)
    return {
      kind: 'unavailable',
      reason: `GNU time (${GNU_TIME_PATH}) was not found when the job started: local usage is not recorded`,
    };
  let text: string | null = null;
  try {
    text = readFileSync(f.record.usagePath, 'utf8');
  } catch {
    text = null;
  }
  const figures = text ? parseTimeOutput(text) : null;
  if (!figures) {
    if (f.alive) return { kind: 'pending', reason: 'the job is still writing its usage' };
    return {
      kind: 'unavailable',
      reason: f.record.cancelledAt
        ? 'the job was cancelled (killed) before its usage was written'
        : 'the job ended without writing its usage (killed?)',
    };
  }
  return {
    kind: 'ok',
    node: f.node,
    startedAt: f.record.submittedAt,
    finishedAt: f.endedAt,
    elapsedSec: figures.elapsedSec,
    allocCpus: f.record.cpus > 0 ? f.record.cpus : 1,
    cpuTimeSec: figures.cpuTimeSec,
    maxRssBytes: figures.maxRssBytes,
    reqMemBytes: f.record.memoryMiB ? f.record.memoryMiB * 1024 * 1024 : null,
  };
}
