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
