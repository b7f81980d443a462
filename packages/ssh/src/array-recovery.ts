/**
 * Lost submission answers on a scheduler over SSH (Slurm, PBS): the jobs may exist, so they are
 * looked up by their tags with ONE `findByTags` call before anything is submitted again — an array
 * by its tag (element 0's tag, the array job's name), the tasks of a batch by theirs.
 */
import type { SubmitOutcome, SubmitRequest } from '@scripthut/core';

/** What {@link adoptLostArray} needs from its backend. */
export interface LostArrayContext {
  findByTags(tags: string[]): Promise<Map<string, string>>;
  markerPath(tag: string): string;
  /** `<array job id>` + index → the element's job id (throws for an id of the wrong shape). */
  elementJobId(arrayJobId: string, index: number): string;
  /** Whether a found id is an array job id this backend can index (default: any). */
  isArrayJobId?(id: string): boolean;
}

/**
 * Outcomes for the elements of an array whose submission answer was lost (`why`): adopted element
 * by element when the array is found by its tag, otherwise every element `maybeSubmitted` (the
 * engine keeps looking it up by tag before any new submission).
 */
export async function adoptLostArray(
  ctx: LostArrayContext,
  requests: readonly SubmitRequest[],
  scriptOf: (index: number) => string,
  why: string,
): Promise<SubmitOutcome[]> {
  const tag = requests[0]!.array!.tag;
  let found: string | undefined;
  try {
    found = (await ctx.findByTags([tag])).get(tag);
  } catch {
    /* unknown: every element stays maybe-submitted */
  }
  if (found && ctx.isArrayJobId && !ctx.isArrayJobId(found)) found = undefined;
  return requests.map(
    (r, i): SubmitOutcome =>
      found
        ? {
            taskId: r.taskId,
            ok: true,
            jobId: ctx.elementJobId(found, i),
            script: scriptOf(i),
            meta: { tag: r.tag, markerPath: ctx.markerPath(r.tag), arrayJobId: found, recovered: true },
          }
        : {
            taskId: r.taskId,
            ok: false,
            transient: true,
            maybeSubmitted: true,
            script: scriptOf(i),
            error: `the answer of the array submission was lost (${why}); the array may exist and is looked up by its tag ${tag} before any new submission`,
          },
  );
}

/** What {@link adoptLostJobs} needs from its backend. */
export interface LostJobsContext {
  findByTags(tags: string[]): Promise<Map<string, string>>;
  markerPath(tag: string): string;
  /** Meta of an adopted job after `tag` and `markerPath` (before `recovered`). */
  adoptedMeta?(jobId: string): Record<string, unknown>;
  /** The error of a task not found (`lookedUp`: false when the tag lookup itself failed). */
  lostError(tag: string, lookedUp: boolean): string;
}

/**
 * Outcomes of the tasks of a batch submission whose answers never arrived (`indexes` into
 * `outcomes`; request `i` is `requests[i - offset]`): ONE `findByTags` for all of them, a job found by
 * its tag is adopted (`recovered: true`), any other task is `maybeSubmitted` (the engine looks it up
 * again before any new submission, so a job that appears late is adopted instead of doubled).
 */
export async function adoptLostJobs(
  ctx: LostJobsContext,
  requests: readonly SubmitRequest[],
  indexes: readonly number[],
  offset: number,
  scripts: ReadonlyMap<number, string>,
  outcomes: SubmitOutcome[],
): Promise<void> {
  let byTag = new Map<string, string>();
  let lookedUp = true;
  try {
    byTag = await ctx.findByTags(indexes.map((i) => requests[i - offset]!.tag));
  } catch {
    lookedUp = false; // unknown: every task stays maybe-submitted
  }
  for (const index of indexes) {
    const req = requests[index - offset]!;
    const jobId = byTag.get(req.tag);
    outcomes[index] = jobId
      ? {
          taskId: req.taskId,
          ok: true,
          jobId,
          script: scripts.get(index)!,
          meta: {
            tag: req.tag,
            markerPath: ctx.markerPath(req.tag),
            ...ctx.adoptedMeta?.(jobId),
            recovered: true,
          },
        }
      : {
          taskId: req.taskId,
          ok: false,
          transient: true,
          maybeSubmitted: true,
          script: scripts.get(index),
          error: ctx.lostError(req.tag, lookedUp),
        };
  }
}

/** A chunk of a batch submission whose program has answered (or stopped early). */
export interface AnsweredChunk<L> {
  /** The chunk's requests; request `i` is at batch position `offset + i`. */
  requests: readonly SubmitRequest[];
  offset: number;
  /** Batch positions of the tasks the program was asked to submit. */
  positions: readonly number[];
  /** Rendered script per batch position. */
  scripts: ReadonlyMap<number, string>;
  /** The program's answer line for a batch position (undefined: no answer for that task). */
  lineOf(position: number): L | undefined;
  /** The outcome one answer line means (a job id, or a failure with its verdict). */
  judge(line: L, request: SubmitRequest, script: string): SubmitOutcome;
  /** How tasks without an answer are looked up by tag ({@link adoptLostJobs}). */
  lost: LostJobsContext;
}

/**
 * Fill `outcomes` for a chunk after its submission program ran: each answered task by
 * `chunk.judge`; the tasks without an answer (the program stopped early or its answer was lost,
 * so some may have been submitted) with ONE tag lookup, so a task never gets two jobs.
 */
export async function settleSubmission<L>(chunk: AnsweredChunk<L>, outcomes: SubmitOutcome[]): Promise<void> {
  const unanswered: number[] = [];
  for (const position of chunk.positions) {
    const line = chunk.lineOf(position);
    if (line === undefined) {
      unanswered.push(position);
      continue;
    }
    outcomes[position] = chunk.judge(
      line,
      chunk.requests[position - chunk.offset]!,
      chunk.scripts.get(position)!,
    );
  }
  if (unanswered.length) {
    await adoptLostJobs(chunk.lost, chunk.requests, unanswered, chunk.offset, chunk.scripts, outcomes);
  }
}
