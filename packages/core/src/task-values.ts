/**
 * The value grammars of task JSON fields, shared by the validator, the backends and the UI: memory
 * sizes, Slurm time limits, generic resources (`gres`) and well-formed Unicode text.
 */

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Index of the first lone UTF-16 surrogate in `text` (a string that is not valid Unicode: it cannot
 * be encoded as UTF-8 nor put in a URL), or -1 when the text is well formed.
 */
export function loneSurrogateIndex(text: string): number {
  const m = LONE_SURROGATE.exec(text);
  return m ? m.index : -1;
}

/** Why `text` is not valid Unicode text, or `null` (for error messages that name a field). */
export function unicodeProblem(text: string): string | null {
  const at = loneSurrogateIndex(text);
  if (at < 0) return null;
  const unit = text.charCodeAt(at).toString(16);
  return `must be valid Unicode text: contains a lone UTF-16 surrogate (\\u${unit}) at index ${at}`;
}

const MEMORY_RE = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?$/i;

/**
 * Parse a Slurm-style memory size into MiB. Accepts `K`, `M`, `G`, `T` suffixes (any case, optional
 * trailing `B`/`iB`); a bare number means MiB. Returns `null` when malformed or not positive.
 *
 * @example
 * ```ts
 * parseMemoryMiB('4G')    // 4096
 * parseMemoryMiB('500mb') // 500
 * parseMemoryMiB('2048')  // 2048
 * ```
 */
export function parseMemoryMiB(value: string): number | null {
  const m = MEMORY_RE.exec(value.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toUpperCase();
  const factor = unit === 'K' ? 1 / 1024 : unit === 'G' ? 1024 : unit === 'T' ? 1024 * 1024 : 1;
  const mib = Math.ceil(n * factor);
  return Number.isFinite(mib) && mib > 0 ? mib : null;
}

/** Normalise a memory size to Slurm syntax (`4G`, `500M`, `512K`); fractions become MiB. */
export function normalizeMemory(value: string, mib = parseMemoryMiB(value)): string {
  const m = MEMORY_RE.exec(value.trim());
  if (!m || mib === null) return value.trim();
  const unit = (m[2] ?? '').toUpperCase() || 'M';
  return /^\d+$/.test(m[1]!) ? `${Number(m[1])}${unit}` : `${mib}M`;
}

/**
 * Parse a Slurm time limit into seconds. Accepted forms: `MM`, `MM:SS`, `HH:MM:SS`, `D-HH`,
 * `D-HH:MM`, `D-HH:MM:SS`. Returns `null` when malformed or zero.
 *
 * @example
 * ```ts
 * parseTimeLimitSeconds('1:00:00')  // 3600
 * parseTimeLimitSeconds('2-12')     // 216000
 * parseTimeLimitSeconds('90')       // 5400
 * ```
 */
export function parseTimeLimitSeconds(value: string): number | null {
  const s = value.trim();
  let days = 0;
  let rest = s;
  const dash = s.indexOf('-');
  if (dash >= 0) {
    const d = s.slice(0, dash);
    if (!/^\d+$/.test(d)) return null;
    days = Number(d);
    rest = s.slice(dash + 1);
  }
  const parts = rest.split(':');
  if (parts.length === 0 || parts.length > 3 || parts.some((p) => !/^\d+$/.test(p))) return null;
  const nums = parts.map(Number);
  let seconds: number;
  if (dash >= 0) {
    // D-HH, D-HH:MM, D-HH:MM:SS
    const [h = 0, m = 0, sec = 0] = nums;
    if (m > 59 || sec > 59) return null;
    seconds = h * 3600 + m * 60 + sec;
  } else if (nums.length === 1) {
    seconds = nums[0]! * 60; // MM
  } else if (nums.length === 2) {
    const [m = 0, sec = 0] = nums;
    if (sec > 59) return null;
    seconds = m * 60 + sec; // MM:SS
  } else {
    const [h = 0, m = 0, sec = 0] = nums;
    if (m > 59 || sec > 59) return null;
    seconds = h * 3600 + m * 60 + sec;
  }
  const total = days * 86400 + seconds;
  return total > 0 && Number.isSafeInteger(total) ? total : null;
}

/**
 * Format seconds as a Slurm time limit: `HH:MM:SS`, or `D-HH:MM:SS` from one day.
 *
 * @example
 * ```ts
 * formatDuration(3600)   // '1:00:00'
 * formatDuration(93784)  // '1-02:03:04'
 * ```
 */
export function formatDuration(totalSeconds: number): string {
  const t = Math.max(0, Math.floor(totalSeconds));
  const days = Math.floor(t / 86400);
  const h = Math.floor((t % 86400) / 3600);
  const m = Math.floor((t % 3600) / 60);
  const s = t % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(s).padStart(2, '0');
  if (days > 0) return `${days}-${String(h).padStart(2, '0')}:${mm}:${ss}`;
  return `${h}:${mm}:${ss}`;
}

/** A parsed generic resource request. */
export interface Gres {
  name: string;
  type: string | null;
  count: number;
}

const GRES_PART = /^[A-Za-z0-9_.-]+$/;

/**
 * Parse a Slurm-style `gres` (`name[:type]:count`, e.g. `gpu:2`, `gpu:v100:1`). A bare name means
 * a count of 1. Returns `null` when malformed.
 */
export function parseGres(value: string): Gres | null {
  const parts = value.trim().split(':');
  if (parts.length < 1 || parts.length > 3 || parts.some((p) => !GRES_PART.test(p))) return null;
  if (parts.length === 1) return /^\d+$/.test(parts[0]!) ? null : { name: parts[0]!, type: null, count: 1 };
  const last = parts[parts.length - 1]!;
  if (!/^\d+$/.test(last) || Number(last) < 1) return null;
  if (/^\d+$/.test(parts[0]!)) return null;
  return { name: parts[0]!, type: parts.length === 3 ? parts[1]! : null, count: Number(last) };
}
