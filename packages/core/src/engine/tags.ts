/**
 * Submit tags: short `[a-z0-9]` strings carried by a scheduler job's name so that, after a crash, the
 * engine can find jobs it submitted but did not record (see {@link Backend.findByTags}).
 *
 * Layout (12–15 characters): `sh` + run id (8 hex) + base36(seq) (1–4 chars) + base36(attempt % 36)
 * (1 char). A run can therefore hold up to 36^4 = 1,679,616 tasks.
 */
import { ScriptHutError } from '../errors.js';

/** Largest task sequence number a tag can encode. */
export const MAX_TAGGED_SEQ = 36 ** 4 - 1;

/** Decoded submit tag. */
export interface SubmitTag {
  runId: string;
  seq: number;
  /** Attempt number modulo 36. */
  attempt: number;
}

/**
 * Build the tag of one submission attempt of a task.
 *
 * @example
 * ```ts
 * makeSubmitTag('0a1b2c3d', 1234, 1) // 'sh0a1b2c3dya1'
 * ```
 */
export function makeSubmitTag(runId: string, seq: number, attempt: number): string {
  if (!/^[0-9a-f]{8}$/.test(runId))
    throw new ScriptHutError('internal', `run id must be 8 hex chars: ${runId}`);
  if (!Number.isInteger(seq) || seq < 0 || seq > MAX_TAGGED_SEQ) {
    throw new ScriptHutError(
      'validation_failed',
      `task sequence ${seq} is out of range (max ${MAX_TAGGED_SEQ})`,
    );
  }
  if (!Number.isInteger(attempt) || attempt < 0)
    throw new ScriptHutError('internal', `bad attempt ${attempt}`);
  return `sh${runId}${seq.toString(36)}${(attempt % 36).toString(36)}`;
}

/** Decode a tag made by {@link makeSubmitTag}; `null` if it is not one. */
export function parseSubmitTag(tag: string): SubmitTag | null {
  const m = /^sh([0-9a-f]{8})([0-9a-z]{1,4})([0-9a-z])$/.exec(tag);
  if (!m) return null;
  return { runId: m[1]!, seq: Number.parseInt(m[2]!, 36), attempt: Number.parseInt(m[3]!, 36) };
}

/**
 * The scheduler job name of a submission: the tag first (crash recovery finds it by that prefix),
 * then `-` and a readable slice of the task name, so people can tell jobs apart in `squeue`/`qstat`.
 * The name part keeps `[A-Za-z0-9_.]` (anything else becomes `_`) and is cut to fit `maxLength`.
 *
 * @example
 * ```ts
 * jobNameFor('sh0a1b2c3dya1', 'train model (lr=0.1)') // 'sh0a1b2c3dya1-train_model_lr_0.1'
 * ```
 */
export function jobNameFor(tag: string, taskName: string, maxLength = 64): string {
  const room = maxLength - tag.length - 1;
  if (room <= 0) return tag;
  const readable = taskName
    .replace(/[^A-Za-z0-9_.]+/g, '_')
    .replace(/^[_.]+|_+$/g, '')
    .slice(0, room)
    .replace(/_+$/, '');
  return readable ? `${tag}-${readable}` : tag;
}

/**
 * The submit tag a scheduler job name carries: names made by {@link jobNameFor} and bare tags (as
 * earlier versions named jobs). `null` for names ScriptHut did not make.
 */
export function tagOfJobName(name: string): string | null {
  const m = /^(sh[0-9a-f]{8}[0-9a-z]{2,5})(?:-|$)/.exec(name);
  return m && parseSubmitTag(m[1]!) ? m[1]! : null;
}
