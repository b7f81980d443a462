/**
 * Batch submission and tag lookup of the Slurm backend: one program per chunk of tasks, answers
 * parsed per task, and tasks whose answer was lost resolved by their tag (adopted when the job
 * exists, else flagged `maybeSubmitted` so that the engine never submits a second job blindly).
 */
import type { ExecResult, SubmitOutcome, SubmitRequest } from '@scripthut/core';
import { BackendError } from '@scripthut/core';
import {
  type BackendExecOptions,
  interruptedCommand,
  prepareSubmission,
  type SubmitLine,
  settleSubmission,
  submitInChunks,
  truncateOutput as truncate,
} from '@scripthut/ssh';
import { formatJobRef, parseJobRef, parseSbatchOutput, parseTagRows, type SlurmJobRef } from './parse.js';
import {
  buildFindByTagsProgram,
  buildSubmitProgram,
  type ClusterName,
  parseFindByTagsAnswer,
  parseSubmitAnswer,
} from './programs.js';
import { classifySbatchFailure } from './sbatch-errors.js';
import { TAG_RE } from './script.js';

/** What submission needs from its backend. */
export interface SubmissionContext {
  name: string;
  run: (command: string, options?: BackendExecOptions) => Promise<ExecResult>;
  render: (request: SubmitRequest) => string;
  resolvePath: (path: string) => string;
  homeDir: () => Promise<string>;
  markerDir: string;
  markerPath: (tag: string) => string;
  /** Max tasks per submission program. */
  chunkSize: number;
  /** Clusters to search in tag lookups; clusters seen in sbatch answers are added. */
  knownClusters: Set<string>;
}

/** `submit` and `findByTags` of a Slurm backend. */
export function createSubmission(ctx: SubmissionContext): {
  submit(requests: SubmitRequest[]): Promise<SubmitOutcome[]>;
  findByTags(tags: string[]): Promise<Map<string, string>>;
} {
  const { run, render, resolvePath, homeDir, markerDir, markerPath, chunkSize, knownClusters } = ctx;
  const options = { name: ctx.name };

  async function findByTags(tags: string[]): Promise<Map<string, string>> {
    const valid = [...new Set(tags.filter((t) => TAG_RE.test(t)))];
    const found = new Map<string, string>();
    if (!valid.length) return found;
    const clusters: ClusterName[] = [null, ...knownClusters];
    const r = await run('bash -s', {
      stdin: buildFindByTagsProgram(valid, clusters),
      timeoutMs: 40_000 + 30_000 * clusters.length,
      logAs: `squeue -u $USER + sacct -u $USER (7 days)${knownClusters.size ? ` on ${clusters.length} clusters` : ''}, names matching ${valid.length} tags`,
    });
    const answer = parseFindByTagsAnswer(r.stdout);
    if (!answer.complete)
      throw new BackendError(`job lookup by tag failed on backend ${options.name}`, {
        transient: true,
        output: truncate(r.stderr),
      });
    // A named cluster's answer wins over the default cluster's (the same job seen both ways).
    const set = new Set(valid);
    const byCluster = new Map<string, SlurmJobRef>();
    for (const { cluster, text } of answer.rows) {
      for (const [tag, id] of parseTagRows(text, set)) {
        const prev = byCluster.get(tag);
        if (!prev || (prev.cluster === null && cluster !== null) || Number(id) > Number(prev.id))
          byCluster.set(tag, { id, cluster });
      }
    }
    for (const [tag, ref] of byCluster) found.set(tag, formatJobRef(ref));
    return found;
  }

  async function submitChunk(
    requests: SubmitRequest[],
    offset: number,
    outcomes: SubmitOutcome[],
  ): Promise<void> {
    const { items, scripts, dirs } = prepareSubmission(requests, offset, outcomes, render, resolvePath);
    if (!items.length) return;
    const program = buildSubmitProgram(
      items.map((item) => ({ ...item, tag: requests[item.index - offset]!.tag })),
      dirs,
      markerDir,
    );
    let stdout: string;
    let lost: string | null = null;
    let exitNote = '';
    try {
      const r = await run('bash -s', {
        stdin: program,
        timeoutMs: 60_000 + 2_000 * items.length,
        logAs: `sbatch --parsable × ${items.length} (batch submission program on stdin)`,
      });
      stdout = r.stdout;
      exitNote = `exit ${r.exitCode}${r.stderr.trim() ? `: ${truncate(r.stderr.trim(), 300)}` : ''}`;
    } catch (e) {
      const interrupted = interruptedCommand(e);
      if (!interrupted.started) throw e; // nothing ran: the whole batch is retried
      stdout = interrupted.stdout;
      lost = e instanceof Error ? e.message : String(e);
    }
    const answer = parseSubmitAnswer(stdout);
    // Tasks without an answer line: the program stopped early or its answer was lost.
    const why = lost ?? `the submission program ended before answering (${exitNote})`;
    await settleSubmission(
      {
        requests,
        offset,
        positions: items.map((item) => item.index),
        scripts,
        lineOf: (position) => answer.tasks.get(position),
        judge: (line, req, script) => judgeSbatchLine(line, req, script, answer.verified),
        lost: {
          findByTags,
          markerPath,
          lostError: (tag) =>
            `the answer of the submission was lost (${why}); the job may exist and is looked up by its tag ${tag} before any new submission`,
        },
      },
      outcomes,
    );
  }

  /**
   * The outcome of one task's `sbatch` answer line (`verified`: the ids squeue saw right after the
   * submission, when that check ran).
   */
  function judgeSbatchLine(
    line: SubmitLine,
    req: SubmitRequest,
    script: string,
    verified: ReadonlySet<string> | null,
  ): SubmitOutcome {
    if (line.rc !== 0) {
      const raw = (line.stderr.trim() || line.stdout.trim() || `sbatch exited with code ${line.rc}`).replace(
        /\s+$/,
        '',
      );
      const failure = classifySbatchFailure(raw);
      return {
        taskId: req.taskId,
        ok: false,
        error: truncate(`${failure.summary}\n${raw}`),
        transient: failure.transient,
        ...(failure.maybeSubmitted ? { maybeSubmitted: true } : {}),
        script,
      };
    }
    const parsed = parseSbatchOutput(line.stdout);
    const ref = parsed
      ? parseJobRef(parsed.cluster ? `${parsed.jobId};${parsed.cluster}` : parsed.jobId)
      : null;
    if (!parsed || !ref) {
      return {
        taskId: req.taskId,
        ok: false,
        error: truncate(
          `sbatch succeeded but printed no job id: ${line.stdout.trim()} ${line.stderr.trim()}`.trim(),
        ),
        transient: false,
        script,
      };
    }
    if (ref.cluster) knownClusters.add(ref.cluster);
    if (verified && !ref.cluster && !verified.has(ref.id)) {
      return {
        taskId: req.taskId,
        ok: false,
        error: `sbatch returned job ${ref.id} but squeue does not know it; the job likely never entered the queue (${truncate(line.stderr.trim(), 500)})`,
        transient: false,
        script,
      };
    }
    const meta: Record<string, unknown> = { tag: req.tag, markerPath: markerPath(req.tag) };
    if (ref.cluster) meta.cluster = ref.cluster;
    if (line.stderr.trim()) meta.sbatchWarning = truncate(line.stderr.trim(), 500);
    return { taskId: req.taskId, ok: true, jobId: formatJobRef(ref), script, meta };
  }

  async function submit(requests: SubmitRequest[]): Promise<SubmitOutcome[]> {
    if (!requests.length) return [];
    await homeDir();
    return submitInChunks(requests, chunkSize, submitChunk);
  }

  return { submit, findByTags };
}
