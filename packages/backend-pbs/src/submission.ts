/**
 * Batch submission of the PBS backend: one program per chunk of tasks (`qsub` per task from
 * `$HOME`), answers parsed per task, and tasks whose answer never arrived resolved by their tag.
 */
import type { ExecResult, SubmitOutcome, SubmitRequest } from '@scripthut/core';
import {
  adoptLostJobs,
  type BackendExecOptions,
  prepareSubmission,
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
    const unanswered: number[] = [];
    for (const item of items) {
      const req = requests[item.index - offset]!;
      const script = scripts.get(item.index)!;
      const line = answer.get(item.index);
      if (!line) {
        unanswered.push(item.index);
        continue;
      }
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
        outcomes[item.index] = {
          taskId: req.taskId,
          ok: false,
          error: truncate(failure.reason),
          transient: failure.transient,
          script,
        };
        continue;
      }
      const meta: Record<string, unknown> = {
        tag: req.tag,
        markerPath: markerPath(req.tag),
        jobNumber: displayJobNumber(jobId),
        flavour: fl,
      };
      if (line.stderr.trim()) meta.qsubWarning = truncate(line.stderr.trim(), 500);
      outcomes[item.index] = { taskId: req.taskId, ok: true, jobId, script, meta };
    }
    if (unanswered.length) {
      // The program stopped early: some of these may have been submitted. Look them up by tag so
      // a task never gets two jobs.
      await adoptLostJobs(
        {
          findByTags: ctx.findByTags,
          markerPath,
          adoptedMeta: (jobId) => ({ jobNumber: displayJobNumber(jobId) }),
          lostError: (_tag, lookedUp) =>
            `the submission program ended before answering for this task (exit ${r.exitCode})${lookedUp ? '' : '; the tag lookup failed too'}: ${truncate(r.stderr.trim(), 500)}`,
        },
        requests,
        unanswered,
        offset,
        scripts,
        outcomes,
      );
    }
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
