/**
 * Job arrays on PBS ({@link ArraySupport}): PBS Pro `qsub -J 0-(K-1)`, Torque `qsub -t 0-(K-1)`,
 * the server's size limit (PBS Pro `max_array_size`, Torque `max_job_array_size`; read from
 * `qstat -Bf` with the dialect detection, once per connection), and ONE program per array that
 * creates the elements' exit markers and log links and runs `qsub` with the array script on a
 * quoted heredoc. The array's id is `123[].server`; element `i` is `123[i].server` everywhere
 * (status, cancel, logs) in both dialects.
 */
import { type ArraySupport, MAX_ARRAY_ELEMENTS } from '@scripthut/core';
import {
  type ArrayDialect,
  type ArrayHost,
  submitSchedulerArray,
  truncateOutput as truncate,
} from '@scripthut/ssh';
import { PBS_ARRAY_DIALECTS, pbsArrayKey, renderPbsArrayScript } from './array-script.js';
import { displayJobNumber, type PbsFlavour, parseQsubOutput } from './parse.js';
import type { PbsScriptOptions } from './script.js';
import { qsubFailure } from './verdict.js';

/** PBS Pro's default `max_array_size` (server attribute; used when the server does not show it). */
export const DEFAULT_MAX_ARRAY_SIZE = 10_000;

/** What the array capability needs from its backend. */
export interface PbsArrayContext extends ArrayHost {
  /** Dialect and array limits of the server (detected once per connection). */
  server: () => Promise<{ flavour: PbsFlavour; maxArraySize: number | null; maxSlotLimit?: number | null }>;
  /** Script options of the flavour in use (known once `server()` answered; `pro` before). */
  scriptOptions: () => PbsScriptOptions;
}

/**
 * The server's largest array in `qstat -Bf` output: PBS Pro `max_array_size = 10000`, Torque
 * `max_job_array_size = 1000` (unset by default: no limit of its own); null when absent.
 */
export function parseMaxArraySize(serverOutput: string): number | null {
  const m = /^\s*max(?:_job)?_array_size\s*=\s*(\d+)\s*$/m.exec(serverOutput);
  return m ? Number(m[1]) : null;
}

/**
 * Torque's `max_slot_limit = 10` in `qstat -Bf` output (most elements of one array running at
 * once; qsub refuses a larger `%M`, and an array without `%` gets it); null when absent.
 */
export function parseMaxSlotLimit(serverOutput: string): number | null {
  const m = /^\s*max_slot_limit\s*=\s*(\d+)\s*$/m.exec(serverOutput);
  return m ? Number(m[1]) : null;
}

/** `123[7].server` → `123[].server` (the array an element belongs to); other ids unchanged. */
export function pbsArrayJobIdOf(id: string): string {
  return id.replace(/^(\d+)\[\d+\]/, '$1[]');
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

/**
 * The `%M` of a Torque array: the throttle asked for, at most the server's `max_slot_limit` (qsub
 * refuses more); null when no throttle is asked for (the server's limit then applies by itself).
 */
export function torqueSlotLimit(throttle: number | null, maxSlotLimit: number | null): number | null {
  if (throttle === null || !Number.isInteger(throttle) || throttle < 1) return null;
  return maxSlotLimit !== null && maxSlotLimit > 0 ? Math.min(throttle, maxSlotLimit) : throttle;
}

/** The {@link ArraySupport} of a PBS backend (PBS Pro `-J`, Torque `-t`). */
export function createPbsArrays(ctx: PbsArrayContext): ArraySupport {
  let slotLimit: number | null = null;
  async function maxSize(): Promise<number> {
    const { flavour, maxArraySize } = await ctx.server();
    // Indexes 0 … K-1: K ≤ the server's limit; 0 or 1 means arrays are off at this site. PBS Pro
    // defaults to 10,000; Torque has no limit of its own unless max_job_array_size is set.
    const serverLimit = maxArraySize ?? (flavour === 'pro' ? DEFAULT_MAX_ARRAY_SIZE : MAX_ARRAY_ELEMENTS);
    return Math.min(serverLimit, MAX_ARRAY_ELEMENTS);
  }

  const dialect: ArrayDialect = {
    program: PBS_ARRAY_PROGRAM,
    logAs: (k) => {
      const option = PBS_ARRAY_DIALECTS[ctx.scriptOptions().flavour].option;
      return `qsub ${option} 0-${k - 1} (array of ${k} tasks, script on stdin)`;
    },
    prepare: () => ctx.server(),
    render: (requests, linkDir, { throttle }) =>
      renderPbsArrayScript(requests, {
        ...ctx.scriptOptions(),
        markerPathOf: ctx.markerPath,
        linkDir,
        throttle: torqueSlotLimit(throttle, slotLimit),
      }),
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
          flavour: ctx.scriptOptions().flavour,
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
    async submitArray(requests, { throttle }) {
      slotLimit = (await ctx.server()).maxSlotLimit ?? null;
      return submitSchedulerArray(ctx, dialect, requests, { throttle });
    },
    elementJobId: pbsElementJobId,
  };
}
