/**
 * Job arrays on Slurm ({@link ArraySupport}): `MaxArraySize` read once per connection
 * (`scontrol show config`), and ONE program per array that creates the elements' exit markers and
 * log links, runs `sbatch --parsable` with the array script on a quoted heredoc and checks the array
 * with `squeue`. Element ids are `<array job id>_<index>` (`123_7`, or `123_7;cluster`).
 */
import type { ArraySupport } from '@scripthut/core';
import {
  type ArrayDialect,
  type ArrayHost,
  type ArrayVerdict,
  type SubmitLine,
  submitSchedulerArray,
  truncateOutput as truncate,
} from '@scripthut/ssh';
import { MAX_ARRAY_ELEMENTS, renderSlurmArrayScript, slurmArrayKey } from './array-script.js';
import { formatJobRef, parseJobRef, parseSbatchOutput } from './parse.js';
import { parseSubmitAnswer } from './programs.js';
import { classifySbatchFailure } from './sbatch-errors.js';
import type { SlurmScriptOptions } from './script.js';

/** What the array capability needs from its backend. */
export interface ArrayContext extends ArrayHost {
  name: string;
  scriptOptions: () => SlurmScriptOptions;
  knownClusters: Set<string>;
}

/** `MaxArraySize = 1001` in `scontrol show config` output; null when absent. */
export function parseMaxArraySize(text: string): number | null {
  const m = /^\s*MaxArraySize\s*=\s*(\d+)\s*$/m.exec(text);
  return m ? Number(m[1]) : null;
}

/** `123` + 7 → `123_7`; `123;c1` + 7 → `123_7;c1`. */
export function slurmElementJobId(arrayJobId: string, index: number): string {
  const ref = parseJobRef(arrayJobId);
  if (!ref || ref.id.includes('_') || !Number.isInteger(index) || index < 0)
    throw new Error(`not an array job id: ${arrayJobId}`);
  return formatJobRef({ id: `${ref.id}_${index}`, cluster: ref.cluster });
}

/** After the submission: a `V` line with the array id squeue sees (`%F`), when sbatch succeeded. */
const VERIFY_ARRAY_LINE = `if [ "$rc" = 0 ]; then IFS= read -r id <"$T/o"; id=\${id//[[:space:]]/}; case "$id" in ''|*[!0-9]*) ;; *) squeue -h -t all -j "$id" -o '%F' >"$T/v" 2>/dev/null; printf 'V\\t%s\\t%s\\n' "$?" "$(tr '\\n' ',' <"$T/v")" ;; esac; fi`;

/** The Slurm parts of an array submission program. */
export const SLURM_ARRAY_PROGRAM: ArrayDialect['program'] = {
  homeLine: 'H="$HOME"; export H',
  tmpPrefix: 'scripthut-submit',
  submitCommand: 'sbatch --parsable',
  after: [VERIFY_ARRAY_LINE],
};

/** The {@link ArraySupport} of a Slurm backend. */
export function createSlurmArrays(ctx: ArrayContext): ArraySupport {
  let maxArraySize: Promise<number> | null = null;

  /**
   * MaxArraySize; 0 (no arrays on this connection: every task is its own job) when scontrol answers
   * without it — a site may restrict scontrol, which must not stop submissions. An outage throws.
   */
  async function readMaxSize(): Promise<number> {
    const r = await ctx.run('scontrol show config', { timeoutMs: 30_000 });
    return (r.exitCode === 0 ? parseMaxArraySize(r.stdout) : null) ?? 0;
  }

  async function maxSize(): Promise<number> {
    maxArraySize ??= readMaxSize();
    try {
      // Indexes 0 … K-1 must stay below MaxArraySize; 0 or 1 means arrays are off at this site.
      return Math.min(await maxArraySize, MAX_ARRAY_ELEMENTS);
    } catch (e) {
      maxArraySize = null; // asked again on the next connection
      throw e;
    }
  }

  /** The answer of `sbatch --parsable` (+ the `V` line of squeue) → the array's verdict. */
  function verdict(line: SubmitLine, stdout: string): ArrayVerdict {
    if (line.rc !== 0) {
      const raw = (line.stderr.trim() || line.stdout.trim() || `sbatch exited with code ${line.rc}`).trim();
      const failure = classifySbatchFailure(raw);
      return {
        ok: false,
        error: truncate(`${failure.summary}\n${raw}`),
        transient: failure.transient,
        ...(failure.maybeSubmitted ? { maybeSubmitted: true } : {}),
      };
    }
    const parsed = parseSbatchOutput(line.stdout);
    const ref = parsed
      ? parseJobRef(parsed.cluster ? `${parsed.jobId};${parsed.cluster}` : parsed.jobId)
      : null;
    if (!parsed || !ref || ref.id.includes('_')) {
      const error = truncate(
        `sbatch succeeded but printed no array job id: ${line.stdout.trim()} ${line.stderr.trim()}`.trim(),
      );
      return { ok: false, error, transient: false };
    }
    if (ref.cluster) ctx.knownClusters.add(ref.cluster);
    const verified = parseSubmitAnswer(stdout).verified;
    if (verified && !ref.cluster && !verified.has(ref.id)) {
      const error = `sbatch returned array job ${ref.id} but squeue does not know it; the array likely never entered the queue (${truncate(line.stderr.trim(), 500)})`;
      return { ok: false, error, transient: false };
    }
    const arrayJobId = formatJobRef(ref);
    const warning = line.stderr.trim() ? truncate(line.stderr.trim(), 500) : null;
    return {
      ok: true,
      arrayJobId,
      meta: () => ({
        arrayJobId,
        ...(ref.cluster ? { cluster: ref.cluster } : {}),
        ...(warning ? { sbatchWarning: warning } : {}),
      }),
    };
  }

  const dialect: ArrayDialect = {
    program: SLURM_ARRAY_PROGRAM,
    logAs: (k) => `sbatch --parsable --array=0-${k - 1} (array of ${k} tasks, script on stdin)`,
    render: (requests, linkDir, { throttle }) =>
      renderSlurmArrayScript(requests, {
        ...ctx.scriptOptions(),
        markerPathOf: ctx.markerPath,
        linkDir,
        throttle,
      }),
    verdict,
    elementJobId: slurmElementJobId,
  };

  return {
    maxSize,
    key: (request) => slurmArrayKey(request, ctx.scriptOptions()),
    submitArray: (requests, options) => submitSchedulerArray(ctx, dialect, requests, options),
    elementJobId: slurmElementJobId,
  };
}
