/**
 * Job arrays on PBS Pro ({@link ArraySupport}): `qsub -J 0-(K-1)`, the server's `max_array_size`
 * (read from `qstat -Bf` with the dialect detection, once per connection), and ONE program per
 * array that creates the elements' exit markers and log links and runs `qsub` with the array script
 * on a quoted heredoc. The array's id is `123[].server`; element `i` is `123[i].server` everywhere
 * (status, cancel, logs). Torque has no arrays here: its `maxSize()` is 0, so the engine submits
 * one job per task.
 */
import { type ArraySupport, MAX_ARRAY_ELEMENTS } from '@scripthut/core';
import {
  type ArrayDialect,
  type ArrayHost,
  submitSchedulerArray,
  truncateOutput as truncate,
} from '@scripthut/ssh';
import { pbsArrayKey, renderPbsArrayScript } from './array-script.js';
import { displayJobNumber, type PbsFlavour, parseQsubOutput } from './parse.js';
import type { PbsScriptOptions } from './script.js';
import { qsubFailure } from './verdict.js';

/** PBS Pro's default `max_array_size` (server attribute; used when the server does not show it). */
export const DEFAULT_MAX_ARRAY_SIZE = 10_000;

/** What the array capability needs from its backend. */
export interface PbsArrayContext extends ArrayHost {
  /** Dialect and `max_array_size` of the server (detected once per connection). */
  server: () => Promise<{ flavour: PbsFlavour; maxArraySize: number | null }>;
  /** Script options of the flavour in use (known once `server()` answered; `pro` before). */
  scriptOptions: () => PbsScriptOptions;
}

/** `max_array_size = 10000` in `qstat -Bf` output; null when absent. */
export function parseMaxArraySize(serverOutput: string): number | null {
  const m = /^\s*max_array_size\s*=\s*(\d+)\s*$/m.exec(serverOutput);
  return m ? Number(m[1]) : null;
}

const ARRAY_ID = /^(\d+)\[\]((?:\.[A-Za-z0-9_-][A-Za-z0-9_.-]*)?)$/;

/** `123[].server` + 7 → `123[7].server` (the id qstat and qdel take for the subjob). */
export function pbsElementJobId(arrayJobId: string, index: number): string {
  const m = ARRAY_ID.exec(arrayJobId);
  if (!m || !Number.isInteger(index) || index < 0) throw new Error(`not a PBS array job id: ${arrayJobId}`);
  return `${m[1]}[${index}]${m[2]}`;
}

/** True for the id of one array element (`123[7].server`). */
export function isPbsElementJobId(id: string): boolean {
  return /^\d+\[\d+\]/.test(id);
}

/** The PBS parts of an array submission program. */
export const PBS_ARRAY_PROGRAM: ArrayDialect['program'] = {
  homeLine: 'cd "$HOME" || exit 90',
  tmpPrefix: 'scripthut-qsub',
  submitCommand: 'qsub',
};

/** The {@link ArraySupport} of a PBS backend (elements only on PBS Pro). */
export function createPbsArrays(ctx: PbsArrayContext): ArraySupport {
  async function maxSize(): Promise<number> {
    const { flavour, maxArraySize } = await ctx.server();
    if (flavour !== 'pro') return 0;
    // Subjob indexes 0 … K-1: K ≤ max_array_size; 0 or 1 means arrays are off at this site.
    return Math.min(maxArraySize ?? DEFAULT_MAX_ARRAY_SIZE, MAX_ARRAY_ELEMENTS);
  }

  const dialect: ArrayDialect = {
    program: PBS_ARRAY_PROGRAM,
    logAs: (k) => `qsub -J 0-${k - 1} (array of ${k} tasks, script on stdin)`,
    prepare: () => ctx.server(),
    render: (requests, linkDir) =>
      renderPbsArrayScript(requests, { ...ctx.scriptOptions(), markerPathOf: ctx.markerPath, linkDir }),
    verdict(line) {
      const arrayJobId = line.rc === 0 ? parseQsubOutput(line.stdout) : null;
      if (line.rc !== 0 || !arrayJobId || !ARRAY_ID.test(arrayJobId)) {
        const msg = (line.stderr.trim() || line.stdout.trim() || `qsub exited with code ${line.rc}`).trim();
        const failure =
          line.rc === 0
            ? { transient: false, reason: `qsub succeeded but printed no array job id: ${msg}` }
            : qsubFailure(msg);
        return { ok: false, error: truncate(failure.reason), transient: failure.transient };
      }
      const warning = line.stderr.trim() ? truncate(line.stderr.trim(), 500) : null;
      return {
        ok: true,
        arrayJobId,
        meta: (i) => ({
          jobNumber: displayJobNumber(pbsElementJobId(arrayJobId, i)),
          arrayJobId,
          flavour: 'pro',
          ...(warning ? { qsubWarning: warning } : {}),
        }),
      };
    },
    elementJobId: pbsElementJobId,
    isArrayJobId: (id) => ARRAY_ID.test(id),
  };

  return {
    maxSize,
    key: (request) => pbsArrayKey(request, ctx.scriptOptions()),
    submitArray: (requests) => submitSchedulerArray(ctx, dialect, requests, { throttle: null }),
    elementJobId: pbsElementJobId,
  };
}
