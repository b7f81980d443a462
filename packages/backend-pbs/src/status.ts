/**
 * The PBS backend's status poll: one status program per poll (qstat over every tracked id in
 * chunks, plus the exit markers), parsed into one {@link JobStatus} per job.
 *
 * - Job history on (PBS Pro): `qstat -x` shows live and finished jobs; the record decides.
 * - Job history off (the stock setting): qstat shows live jobs only; a finished job is settled by
 *   its exit marker. A job killed by PBS over a limit leaves no marker, so the last
 *   `=>> PBS: job killed:` line of its stderr (read in a second round trip, only for jobs that
 *   vanished without a marker) gives the verdict; otherwise the job stays `unknown` (not final) and
 *   the engine's lost-job grace period decides.
 * - Malformed `-F json` output (older PBS Pro releases), or JSON that silently leaves jobs out
 *   (current OpenPBS: only the first of several ids, openpbs/openpbs#2672), makes the poll ask
 *   again in text, and the backend keeps using text from then on.
 */

import type { ExecResult } from '@scripthut/core';
import { BackendError, type JobStatus, type TrackedJob } from '@scripthut/core';
import {
  type BackendExecOptions,
  type ExitMarker,
  parseMarkerLines,
  splitSections,
  truncateOutput as truncate,
} from '@scripthut/ssh';
import { isPbsElementJobId } from './arrays.js';
import {
  attr,
  displayJobNumber,
  isValidPbsJobId,
  type PbsFlavour,
  type PbsJobRecord,
  parseQstatJson,
  parseQstatText,
  parseQstatXml,
} from './parse.js';
import { buildStatusProgram, buildTailsProgram, onlyGoneJobErrors, type StatusFormat } from './programs.js';
import { TAG_RE } from './script.js';
import { FINISHED_STATES, pbsJobStatus, pbsKillVerdict } from './verdict.js';

/** What the status poll needs from its backend. */
export interface StatusContext {
  name: string;
  markerDir: string;
  run: (command: string, options?: BackendExecOptions) => Promise<ExecResult>;
  /** Dialect and job-history mode of the server (detected once). */
  server: () => Promise<{ flavour: PbsFlavour; history: boolean }>;
  /** Record the history mode a status answer was obtained in (corrects a stale detection). */
  setHistory: (history: boolean) => void;
  /** Resolve `~`/relative paths (home directory looked up once). */
  resolvePath: (path: string) => Promise<string>;
  /** Forced record format (`text`), or null for the flavour's default (JSON / XML). */
  forcedFormat: 'text' | null;
}

interface QstatAnswer {
  records: PbsJobRecord[];
  markers: Map<string, ExitMarker>;
  /** History mode the records were obtained in (PBS Pro). */
  history: boolean;
}

/**
 * Ids qstat neither printed a record for nor named in an error line (`Unknown Job Id <id>`,
 * `<id> Job has finished`): a complete answer has none.
 */
export function silentlyMissing(
  ids: readonly string[],
  records: readonly PbsJobRecord[],
  stderr: string,
): string[] {
  const seen = new Set(records.map((r) => displayJobNumber(r.id)));
  for (const token of stderr.split(/\s+/)) if (isValidPbsJobId(token)) seen.add(displayJobNumber(token));
  return ids.filter((id) => !seen.has(displayJobNumber(id)));
}

/**
 * The `job_state` and `Exit_status` of a PBS Pro array element (`123[7].server`) that ended, or
 * null for any other record. OpenPBS 23.06 shows an element that ended while its array still runs
 * as `X` with an `Exit_status` that is not the element's own: 0 for an element that exited 3
 * (history off), and 1 for every ended element once the array is deleted (history on). The
 * element's exit marker decides instead. A Torque element is a job of its own (`C` with its own
 * `exit_status` while `keep_completed` keeps it): its record decides like any job's, so this is
 * null for Torque.
 */
export function endedElement(rec: PbsJobRecord, flavour: PbsFlavour = 'pro'): string | null {
  if (flavour !== 'pro' || !isPbsElementJobId(rec.id)) return null;
  const letter = (attr(rec, 'job_state') ?? '').trim();
  if (!FINISHED_STATES.has(letter)) return null;
  return `job_state ${letter}, Exit_status ${attr(rec, 'Exit_status')?.trim() ?? 'none'}`;
}

/** Status of an ended array element from its exit marker (times and node from its record). */
export function elementStatus(rec: PbsJobRecord, marker: number, flavour: PbsFlavour): JobStatus {
  const attrs = { ...rec.attrs, Exit_status: String(marker) };
  return { ...pbsJobStatus({ ...rec, attrs }, marker, flavour), exitCode: marker };
}

/** The status poll of one backend (keeps the "JSON is broken here" finding across polls). */
export function createStatusPoll(
  ctx: StatusContext,
): (jobs: TrackedJob[]) => Promise<Map<string, JobStatus>> {
  let jsonBroken = false;

  async function query(
    flavour: PbsFlavour,
    history: boolean,
    ids: string[],
    tags: string[],
    format: StatusFormat,
  ): Promise<QstatAnswer> {
    const r = await ctx.run('bash -s', {
      stdin: buildStatusProgram({ flavour, ids, markerDir: ctx.markerDir, tags, format, history }),
      timeoutMs: 60_000 + 10 * ids.length,
      logAs: `TZ=UTC qstat -f${flavour === 'pro' && history ? ' -x' : ''}${format === 'json' ? ' -F json' : format === 'xml' ? ' -x' : ''} <${ids.length} ids>; read ${tags.length} exit markers`,
    });
    const s = splitSections(r.stdout);
    const rc = Number((s.get('rc') ?? '').trim());
    const stderr = s.get('err') ?? '';
    if (!s.has('end') || !Number.isFinite(rc)) {
      throw new BackendError(`status program failed on backend ${ctx.name}`, {
        transient: true,
        output: truncate(r.stderr),
      });
    }
    if (rc !== 0 && !onlyGoneJobErrors(stderr)) {
      throw new BackendError(`qstat failed on backend ${ctx.name}: ${truncate(stderr.trim(), 500)}`, {
        transient: true,
        command: 'qstat -f …',
        output: truncate(stderr),
      });
    }
    const used = (s.get('fmt') ?? '').trim();
    const out = s.get('out') ?? '';
    const answeredHistory = (s.get('history') ?? '').trim() === '1';
    let records: PbsJobRecord[];
    try {
      records =
        used === 'json' ? parseQstatJson(out) : used === 'xml' ? parseQstatXml(out) : parseQstatText(out);
    } catch (e) {
      if (used === 'json') {
        // One malformed job makes the whole document unreadable: ask again in text, and stay there.
        jsonBroken = true;
        return query(flavour, answeredHistory, ids, tags, 'text');
      }
      throw new BackendError(`cannot parse qstat output on backend ${ctx.name}: ${(e as Error).message}`, {
        transient: true,
        cause: e,
        output: truncate(out),
      });
    }
    if (used === 'json' && silentlyMissing(ids, records, stderr).length) {
      // OpenPBS built from main (23.06.06 + later commits) prints only the FIRST job of a
      // multi-id `qstat -f -F json` (openpbs/openpbs#2672): a job missing without an error about
      // it means the JSON is incomplete. Ask again in text, and stay there.
      jsonBroken = true;
      return query(flavour, answeredHistory, ids, tags, 'text');
    }
    return { records, markers: parseMarkerLines(s.get('markers') ?? ''), history: answeredHistory };
  }

  /** Verdicts from the stderr tails of jobs that vanished without an exit marker. */
  async function killVerdicts(jobs: TrackedJob[]): Promise<Map<string, JobStatus>> {
    const out = new Map<string, JobStatus>();
    const withLog = jobs.filter((j) => j.stderrPath);
    if (!withLog.length) return out;
    const paths = await Promise.all(withLog.map((j) => ctx.resolvePath(j.stderrPath!)));
    const r = await ctx.run('bash -s', {
      stdin: buildTailsProgram(paths),
      timeoutMs: 30_000,
      logAs: `tail -c 4096 <stderr of ${paths.length} vanished jobs> (PBS kill messages)`,
    });
    const s = splitSections(r.stdout);
    if (!s.has('end')) return out;
    withLog.forEach((job, i) => {
      const text = Buffer.from((s.get(`tail${i}`) ?? '').trim(), 'base64').toString('utf8');
      const verdict = pbsKillVerdict(text);
      if (verdict) out.set(job.jobId, { jobId: job.jobId, ...verdict, exitCode: null, final: true });
    });
    return out;
  }

  return async function status(jobs: TrackedJob[]): Promise<Map<string, JobStatus>> {
    const result = new Map<string, JobStatus>();
    const valid = jobs.filter((j) => isValidPbsJobId(j.jobId));
    for (const j of jobs)
      if (!isValidPbsJobId(j.jobId))
        result.set(j.jobId, { jobId: j.jobId, state: 'unknown', reason: 'invalid job id' });
    if (!valid.length) return result;
    const { flavour, history } = await ctx.server();
    const ids = [...new Set(valid.map((j) => j.jobId))];
    const tagOf = new Map(valid.filter((j) => TAG_RE.test(j.tag)).map((j) => [j.jobId, j.tag]));
    const format: StatusFormat =
      ctx.forcedFormat === 'text' || (flavour === 'pro' && jsonBroken)
        ? 'text'
        : flavour === 'pro'
          ? 'json'
          : 'xml';
    const answer = await query(flavour, history, ids, [...new Set(tagOf.values())], format);
    if (flavour === 'pro' && answer.history !== history) ctx.setHistory(answer.history);

    const byNumber = new Map(answer.records.map((rec) => [displayJobNumber(rec.id), rec]));
    const vanished: TrackedJob[] = [];
    const signalled = new Map<string, number>();
    const endedElements = new Map<string, string>();
    for (const job of valid) {
      const rec = byNumber.get(displayJobNumber(job.jobId));
      const tag = tagOf.get(job.jobId);
      const found = tag === undefined ? undefined : answer.markers.get(tag);
      // A marker of a command that died of a signal is not the job's own verdict (the scheduler
      // may have killed the whole job: walltime, memory, qdel): the record or the MoM's kill line
      // decides, the code is only the last resort.
      const marker = found && !found.signal ? found.code : undefined;
      const element = rec ? endedElement(rec, flavour) : null;
      if (element && marker !== undefined) {
        // An ended array element's Exit_status is not its own (see endedElement): the marker is.
        result.set(job.jobId, { ...elementStatus(rec!, marker, flavour), jobId: job.jobId });
      } else if (element) {
        vanished.push(job);
        endedElements.set(job.jobId, element);
        if (found?.signal) signalled.set(job.jobId, found.code);
      } else if (rec) {
        result.set(job.jobId, { ...pbsJobStatus(rec, marker, flavour), jobId: job.jobId });
      } else if (found?.signal) {
        vanished.push(job);
        signalled.set(job.jobId, found.code);
      } else if (marker !== undefined) {
        // qstat no longer lists the job (history off, Torque keep_completed, history purged): the
        // marker the job script wrote at its end is the evidence.
        result.set(job.jobId, {
          jobId: job.jobId,
          state: marker === 0 ? 'completed' : 'failed',
          exitCode: marker,
          reason:
            marker === 0 ? null : `exit code ${marker} (from the exit marker; qstat no longer lists the job)`,
          final: true,
        });
      } else vanished.push(job);
    }
    if (!vanished.length) return result;
    const kills = await killVerdicts(vanished);
    const why =
      flavour === 'pro' && !answer.history
        ? 'qstat does not list the job (job history is off, so finished jobs are not shown) and it left no exit marker yet'
        : 'qstat does not know the job';
    for (const job of vanished) {
      const code = signalled.get(job.jobId);
      const element = endedElements.get(job.jobId);
      const fallback: JobStatus =
        element !== undefined && code === undefined
          ? {
              jobId: job.jobId,
              state: 'failed',
              exitCode: null,
              reason: `the array element ended without writing its exit marker (killed or deleted before the end of its script; PBS keeps no exit status of its own for an ended array element: ${element})`,
              final: true,
            }
          : code === undefined
            ? { jobId: job.jobId, state: 'unknown', reason: why, final: false }
            : {
                jobId: job.jobId,
                state: 'failed',
                exitCode: code,
                reason: `the command was killed by signal ${code - 128} (exit code ${code} from the exit marker; qstat no longer lists the job)`,
                final: true,
              };
      result.set(job.jobId, kills.get(job.jobId) ?? fallback);
    }
    return result;
  };
}
