/**
 * Pure parsers for Slurm command output (`sbatch --parsable`, `squeue`, `sacct`, `sinfo`, `df`) and
 * the verdict rules that turn accounting rows into a {@link JobStatus}. No I/O here: everything is
 * unit-tested on recorded output.
 */
import { isTerminalJobState, type JobState, type JobStatus, tagOfJobName } from '@scripthut/core';

export * from './parse-cluster.js';

/** A Slurm job id we are willing to put into a command: `123` or an array task `123_4`. */
export const JOB_ID_RE = /^\d+(_\d+)?$/;

/** True when `id` is a plain (or array-task) Slurm job id. */
export function isValidJobId(id: string): boolean {
  return JOB_ID_RE.test(id);
}

/**
 * A job as ScriptHut records it: the id `sbatch --parsable` printed, `123` on the default cluster
 * or `123;cluster` for a job submitted with `--clusters` (the same form sbatch uses).
 */
export const JOB_REF_RE = /^(\d+(?:_\d+)?)(?:;([A-Za-z0-9_][A-Za-z0-9_.-]*))?$/;

/** A parsed {@link JOB_REF_RE} job reference. */
export interface SlurmJobRef {
  id: string;
  /** null: the default cluster (no `-M`). */
  cluster: string | null;
}

/** `123` → `{ id: '123', cluster: null }`, `123;c1` → `{ id: '123', cluster: 'c1' }`; else null. */
export function parseJobRef(jobId: string): SlurmJobRef | null {
  const m = JOB_REF_RE.exec(jobId);
  return m ? { id: m[1]!, cluster: m[2] ?? null } : null;
}

/** The recorded form of a job: `id` or `id;cluster`. */
export function formatJobRef(ref: SlurmJobRef): string {
  return ref.cluster ? `${ref.id};${ref.cluster}` : ref.id;
}

// ---------------------------------------------------------------------------------------------
// sbatch
// ---------------------------------------------------------------------------------------------

/** A job id parsed from sbatch output. */
export interface ParsedSubmission {
  jobId: string;
  /** Cluster name from `--parsable` output `id;cluster` (multi-cluster setups). */
  cluster: string | null;
}

/**
 * Job id from `sbatch --parsable` stdout (`12345` or `12345;cluster`), also accepting the classic
 * `Submitted batch job 12345` form. Warning lines around it are tolerated; anything else → null.
 */
export function parseSbatchOutput(stdout: string): ParsedSubmission | null {
  const lines = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!;
    const parsable = /^(\d+)(?:;([A-Za-z0-9_.-]+))?$/.exec(line);
    if (parsable) return { jobId: parsable[1]!, cluster: parsable[2] ?? null };
    const classic = /^Submitted batch job\s+(\d+)(?:\s+on cluster\s+(\S+))?$/.exec(line);
    if (classic) return { jobId: classic[1]!, cluster: classic[2] ?? null };
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Generic `|`-separated rows
// ---------------------------------------------------------------------------------------------

/**
 * Split `|`-separated lines into records keyed by the given field names. Lines with fewer fields
 * are skipped (malformed); extra `|` characters are kept in the last field.
 */
export function parsePipeRows<K extends string>(stdout: string, fields: readonly K[]): Record<K, string>[] {
  const out: Record<K, string>[] = [];
  for (const raw of stdout.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (!line.trim()) continue;
    const parts = line.split('|');
    if (parts.length < fields.length) continue;
    const rec = {} as Record<K, string>;
    fields.forEach((f, i) => {
      rec[f] = (i === fields.length - 1 ? parts.slice(i).join('|') : parts[i]!).trim();
    });
    out.push(rec);
  }
  return out;
}

/** `2026-02-11T10:00:00` (printed with TZ=UTC) → ISO UTC; `Unknown`, `N/A`, `None` → null. */
export function slurmTimeToIso(value: string | undefined | null): string | null {
  if (!value) return null;
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})$/.exec(value.trim());
  return m ? `${m[1]}T${m[2]}Z` : null;
}

export function nodeOrNull(value: string | undefined): string | null {
  const v = (value ?? '').trim();
  if (!v || v === 'None assigned' || v === '(null)' || v === 'N/A' || v === 'None') return null;
  return v;
}

export function reasonOrNull(value: string | undefined): string | null {
  const v = (value ?? '').trim().replace(/^\((.*)\)$/, '$1');
  if (!v || v === 'None' || v === '(null)') return null;
  return v;
}

// ---------------------------------------------------------------------------------------------
// State words
// ---------------------------------------------------------------------------------------------

const SHORT_STATES: Record<string, string> = {
  PD: 'PENDING',
  R: 'RUNNING',
  CG: 'COMPLETING',
  CD: 'COMPLETED',
  CA: 'CANCELLED',
  F: 'FAILED',
  TO: 'TIMEOUT',
  NF: 'NODE_FAIL',
  PR: 'PREEMPTED',
  BF: 'BOOT_FAIL',
  DL: 'DEADLINE',
  OOM: 'OUT_OF_MEMORY',
  S: 'SUSPENDED',
  ST: 'STOPPED',
  CF: 'CONFIGURING',
  RQ: 'REQUEUED',
  RH: 'REQUEUE_HOLD',
  RF: 'REQUEUE_FED',
  RV: 'REVOKED',
  SE: 'SPECIAL_EXIT',
  SI: 'SIGNALING',
  SO: 'STAGE_OUT',
  RD: 'RESV_DEL_HOLD',
  RS: 'RESIZING',
};

/** First word of a Slurm state (`CANCELLED by 1001` → `CANCELLED`, `OUT_OF_ME+` → `OUT_OF_MEMORY`), short codes expanded. */
export function normalizeSlurmState(raw: string): string {
  let word = (raw.trim().split(/\s+/)[0] ?? '').toUpperCase();
  if (word.endsWith('+')) {
    const prefix = word.slice(0, -1);
    const full = Object.values(SHORT_STATES).find((s) => s.startsWith(prefix));
    word = full ?? prefix;
  }
  return SHORT_STATES[word] ?? word;
}

/** Map a Slurm state word to the normalised {@link JobState}. Unknown words → `unknown`. */
export function mapSlurmState(raw: string): JobState {
  switch (normalizeSlurmState(raw)) {
    case 'PENDING':
    case 'CONFIGURING':
    case 'POWER_UP_NODE':
    case 'REQUEUED':
    case 'REQUEUE_HOLD':
    case 'REQUEUE_FED':
    case 'RESV_DEL_HOLD':
    // "same as REQUEUE_HOLD": requeued and held until someone releases it (job_state_codes.html)
    case 'SPECIAL_EXIT':
    case 'LAUNCH_FAILED':
      return 'pending';
    case 'RUNNING':
    case 'SUSPENDED':
    case 'STOPPED':
    case 'RESIZING':
    case 'SIGNALING':
    case 'STAGE_OUT':
      return 'running';
    case 'COMPLETING':
    // Slurm 25.11: the script ended and its epilogs are checked for an expedited requeue
    // (`--requeue=expedite`); the job is requeued or ends: not final yet.
    case 'EXPEDITING':
      return 'completing';
    case 'COMPLETED':
      return 'completed';
    case 'FAILED':
    case 'PREEMPTED':
    case 'DEADLINE':
    case 'REVOKED':
    case 'RECONFIG_FAIL':
      return 'failed';
    case 'CANCELLED':
      return 'cancelled';
    case 'TIMEOUT':
      return 'timeout';
    case 'OUT_OF_MEMORY':
      return 'out_of_memory';
    case 'NODE_FAIL':
    case 'BOOT_FAIL':
      return 'node_fail';
    default:
      return 'unknown';
  }
}

// ---------------------------------------------------------------------------------------------
// squeue (status)
// ---------------------------------------------------------------------------------------------

/** Format used by {@link Backend.status}: `%i|%T|%r|%N|%S`. */
export const SQUEUE_STATUS_FORMAT = '%i|%T|%r|%N|%S';

/** One row of `squeue -h -t all -o '%i|%T|%r|%N|%S'`. */
export interface SqueueStatusRow {
  jobId: string;
  rawState: string;
  state: JobState;
  reason: string | null;
  node: string | null;
  /** Start time (actual for running/finished jobs; an estimate for pending ones). */
  start: string | null;
}

/** Parse status rows; lines that are not job rows (errors, pending array ranges `5_[0-9]`) are skipped. */
export function parseSqueueStatus(stdout: string): SqueueStatusRow[] {
  return parsePipeRows(stdout, ['i', 'T', 'r', 'N', 'S'] as const)
    .filter((r) => isValidJobId(r.i))
    .map((r) => ({
      jobId: r.i,
      rawState: r.T,
      state: mapSlurmState(r.T),
      reason: reasonOrNull(r.r),
      node: nodeOrNull(r.N),
      start: slurmTimeToIso(r.S),
    }));
}

/** True when squeue's stderr says only that the (single) requested id is unknown. */
export function isInvalidJobIdError(stderr: string): boolean {
  return /Invalid job id specified/i.test(stderr);
}

// ---------------------------------------------------------------------------------------------
// sacct (accounting)
// ---------------------------------------------------------------------------------------------

/** Fields requested by {@link Backend.status}'s accounting query, in order. */
export const SACCT_FIELDS = ['JobID', 'State', 'ExitCode', 'Start', 'End', 'NodeList', 'Reason'] as const;

/** One sacct row (job or step) keyed by field name. */
export type SacctRow = Record<string, string>;

/**
 * Parse `sacct -n -P --format=<fields>` output and group rows by base job id (`123.batch` → `123`).
 * `fields` defaults to {@link SACCT_FIELDS}; any field list containing `JobIDRaw` (or `JobID`) works.
 */
export function parseSacct(
  stdout: string,
  fields: readonly string[] = SACCT_FIELDS,
): Map<string, SacctRow[]> {
  const idField = fields.includes('JobIDRaw') ? 'JobIDRaw' : 'JobID';
  const byJob = new Map<string, SacctRow[]>();
  for (const row of parsePipeRows(stdout, fields)) {
    const id = row[idField] ?? '';
    const base = id.split('.')[0]!;
    if (!isValidJobId(base)) continue;
    const list = byJob.get(base) ?? [];
    list.push(row);
    byJob.set(base, list);
  }
  return byJob;
}

/** `3:0` → `{ code: 3, signal: 0 }`; anything else → null. */
export function parseExitCode(value: string | undefined): { code: number; signal: number } | null {
  const m = /^(\d+):(\d+)$/.exec((value ?? '').trim());
  return m ? { code: Number(m[1]), signal: Number(m[2]) } : null;
}

/** Extra evidence for {@link sacctVerdict}. */
export interface VerdictEvidence {
  /** The job's stderr says `exceeded memory limit` (OverMemoryKill without cgroups). */
  memoryExceeded?: boolean;
}

/**
 * Turn the accounting rows of ONE job (main row + steps, any order) into a status.
 *
 * Rules: OUT_OF_MEMORY on the job or its `.batch` step → `out_of_memory`; TIMEOUT → `timeout`;
 * `CANCELLED by N` → `cancelled`; FAILED with signal 9 and the "exceeded memory limit" evidence →
 * `out_of_memory`; a main COMPLETED whose `.batch` step failed takes the step's verdict; COMPLETED
 * with a non-zero ExitCode (either half of `code:signal`, main or `.batch`) → `failed`. The exit
 * code is the non-zero code (else 128+signal). Returns null when there is no main/batch row.
 */
export function sacctVerdict(
  jobId: string,
  rows: readonly SacctRow[],
  evidence: VerdictEvidence = {},
): JobStatus | null {
  const idOf = (r: SacctRow) => r.JobIDRaw ?? r.JobID ?? '';
  const main = rows.find((r) => idOf(r) === jobId) ?? rows.find((r) => !idOf(r).includes('.'));
  const batch = rows.find((r) => idOf(r).endsWith('.batch'));
  const primary = main ?? batch;
  if (!primary) return null;

  const mainWord = normalizeSlurmState(primary.State ?? '');
  const batchWord = batch ? normalizeSlurmState(batch.State ?? '') : null;
  const codes = [parseExitCode(primary.ExitCode), batch ? parseExitCode(batch.ExitCode) : null].filter(
    (c): c is { code: number; signal: number } => c !== null,
  );
  const nonZeroCode = codes.find((c) => c.code !== 0);
  const nonZeroSignal = codes.find((c) => c.signal !== 0);
  const exitCode = nonZeroCode
    ? nonZeroCode.code
    : nonZeroSignal
      ? 128 + nonZeroSignal.signal
      : codes.length
        ? 0
        : null;
  const killedBy9 = codes.some((c) => c.signal === 9);

  let state: JobState = mapSlurmState(mainWord);
  if (mainWord === 'OUT_OF_MEMORY' || batchWord === 'OUT_OF_MEMORY') state = 'out_of_memory';
  else if (mainWord === 'COMPLETED') {
    const batchState = batchWord ? mapSlurmState(batchWord) : 'completed';
    if (batchState !== 'completed' && isTerminalJobState(batchState)) state = batchState;
    else if (nonZeroCode || nonZeroSignal) state = 'failed';
  }
  if ((state === 'failed' || state === 'cancelled') && killedBy9 && evidence.memoryExceeded)
    state = 'out_of_memory';

  const rawParts = [primary.State?.trim()].filter(Boolean) as string[];
  if (batch && batchWord && batchWord !== mainWord) rawParts.push(`batch: ${batch.State?.trim()}`);
  const terminal = isTerminalJobState(state);
  let reason: string | null = null;
  if (state === 'pending') reason = reasonOrNull(primary.Reason);
  else if (terminal && state !== 'completed') {
    const why = reasonOrNull(primary.Reason);
    const ec = primary.ExitCode ?? '';
    reason = `Slurm: ${rawParts.join(', ')}${ec ? ` (ExitCode ${batch?.ExitCode && batch.ExitCode !== '0:0' && ec === '0:0' ? batch.ExitCode : ec})` : ''}${why ? ` — ${why}` : ''}`;
    if (state === 'out_of_memory' && evidence.memoryExceeded) reason += ' — exceeded memory limit';
  }

  return {
    jobId,
    state,
    reason,
    exitCode:
      state === 'completed' || state === 'failed' ? exitCode : exitCode && exitCode !== 0 ? exitCode : null,
    startedAt: slurmTimeToIso(primary.Start),
    finishedAt: terminal ? slurmTimeToIso(primary.End) : null,
    node: nodeOrNull(primary.NodeList),
    rawState: rawParts.join(', ') || null,
    final: terminal,
  };
}

// ---------------------------------------------------------------------------------------------
// findByTags
// ---------------------------------------------------------------------------------------------

/**
 * Merge `id|name` rows (from squeue `%F|%j` and sacct `JobID,JobName`) into tag → job id (an array's job id for its elements).
 * Only names carrying a tag in `tags` count (see `jobNameFor`); if a tag has several jobs, the
 * highest id wins.
 */
export function parseTagRows(
  stdout: string,
  tags: ReadonlySet<string>,
  into = new Map<string, string>(),
): Map<string, string> {
  for (const r of parsePipeRows(stdout, ['id', 'name'] as const)) {
    const tag = tagOfJobName(r.name);
    // An array is known by its job id (`%F`; sacct's `123_7` or `123_[8-99]` → `123`).
    const id = /^(\d+)(?:_(?:\d+|\[[0-9,%[\]-]*\]))?$/.exec(r.id)?.[1];
    if (!id || tag === null || !tags.has(tag)) continue;
    const prev = into.get(tag);
    if (!prev || Number(id) > Number(prev)) into.set(tag, id);
  }
  return into;
}
