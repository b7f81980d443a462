/**
 * Batch submission of the PBS backend: one program per chunk of tasks (`qsub` per task from
 * `$HOME`), answers parsed per task, and tasks whose answer never arrived resolved by their tag.
 */
import type { ExecResult, SubmitOutcome, SubmitRequest } from '@scripthut/core';
import {
  type BackendExecOptions,
  prepareSubmission,
  type SubmitLine,
  settleSubmission,
  submitInChunks,
  truncateOutput as truncate,
} from '@scripthut/ssh';
import { displayJobNumber, type PbsFlavour, parseQsubOutput } from './parse.js';
import { buildSubmitProgram, parseSubmitAnswer } from './programs.js';
import { qsubFailure } from './verdict.js';

/** What submission needs from its backend. */
export interface PbsSubmissionContext {
  run: (command: string, options?: BackendExecOptions) => Promise<ExecResult>;
  /** The job script of a request in a dialect. */
  render: (request: SubmitRequest, flavour: PbsFlavour) => string;
  resolvePath: (path: string) => string;
  homeDir: () => Promise<string>;
  /** The dialect in use (detected once). */
  flavour: () => Promise<PbsFlavour>;
  markerDir: string;
  markerPath: (tag: string) => string;
  /** Max tasks per submission program. */
  chunkSize: number;
  findByTags: (tags: string[]) => Promise<Map<string, string>>;
}

/** `submit` of a PBS backend. */
export function createPbsSubmission(
  ctx: PbsSubmissionContext,
): (requests: SubmitRequest[]) => Promise<SubmitOutcome[]> {
  const { run, render, resolvePath, homeDir, flavour, markerDir, markerPath, chunkSize } = ctx;

  async function submitChunk(
    fl: PbsFlavour,
    requests: SubmitRequest[],
    offset: number,
    outcomes: SubmitOutcome[],
  ): Promise<void> {
    const { items, scripts, dirs } = prepareSubmission(
      requests,
      offset,
      outcomes,
      (req) => render(req, fl),
      resolvePath,
    );
    if (!items.length) return;
    const r = await run('bash -s', {
      stdin: buildSubmitProgram(items, dirs, markerDir),
      timeoutMs: 60_000 + 2_000 * items.length,
      logAs: `qsub × ${items.length} (batch submission program on stdin)`,
    });
    const answer = parseSubmitAnswer(r.stdout);
    await settleSubmission(
      {
        requests,
        offset,
        positions: items.map((item) => item.index),
        scripts,
        lineOf: (position) => answer.get(position),
        judge: (line, req, script) => judgeQsubLine(line, req, script, fl),
        lost: {
          findByTags: ctx.findByTags,
          markerPath,
          adoptedMeta: (jobId) => ({ jobNumber: displayJobNumber(jobId) }),
          lostError: (_tag, lookedUp) =>
            `the submission program ended before answering for this task (exit ${r.exitCode})${lookedUp ? '' : '; the tag lookup failed too'}: ${truncate(r.stderr.trim(), 500)}`,
        },
      },
      outcomes,
    );
  }

  /** The outcome of one task's `qsub` answer line. */
  function judgeQsubLine(
    line: SubmitLine,
    req: SubmitRequest,
    script: string,
    fl: PbsFlavour,
  ): SubmitOutcome {
    const jobId = line.rc === 0 ? parseQsubOutput(line.stdout) : null;
    if (line.rc !== 0 || !jobId) {
      const msg = (line.stderr.trim() || line.stdout.trim() || `qsub exited with code ${line.rc}`).replace(
        /\s+$/,
        '',
      );
      const failure =
        line.rc === 0
          ? { transient: false, reason: `qsub succeeded but printed no job id: ${msg}` }
          : qsubFailure(msg);
      return {
        taskId: req.taskId,
        ok: false,
        error: truncate(failure.reason),
        transient: failure.transient,
        script,
      };
    }
    const meta: Record<string, unknown> = {
      tag: req.tag,
      markerPath: markerPath(req.tag),
      jobNumber: displayJobNumber(jobId),
      flavour: fl,
    };
    if (line.stderr.trim()) meta.qsubWarning = truncate(line.stderr.trim(), 500);
    return { taskId: req.taskId, ok: true, jobId, script, meta };
  }

  async function submit(requests: SubmitRequest[]): Promise<SubmitOutcome[]> {
    if (!requests.length) return [];
    await homeDir();
    const fl = await flavour();
    return submitInChunks(requests, chunkSize, (slice, offset, outcomes) =>
      submitChunk(fl, slice, offset, outcomes),
    );
  }

  return submit;
}
