/**
 * The lost answer of an array submission on a scheduler over SSH (Slurm, PBS Pro): the array may
 * exist, so it is looked up by its tag (element 0's tag, the array job's name) with ONE
 * `findByTags` call before anything is submitted again.
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
