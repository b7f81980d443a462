/**
 * Parsers of PBS Pro and Torque job output: `qsub`, `qstat -f` (text, PBS Pro `-F json`, Torque
 * XML) and the attribute values in it (durations, times, hosts). The rules that turn a record into a
 * status are in `verdict.ts`; cluster-wide outputs in `cluster.ts`.
 */

/** The two PBS dialects this backend speaks. */
export type PbsFlavour = 'pro' | 'torque';

/** One job as reported by `qstat -f`: its full id and its attributes with dotted keys. */
export interface PbsJobRecord {
  /** Full job id (`123.server`). */
  id: string;
  /** Attributes; nested resources use dotted keys (`Resource_List.walltime`). */
  attrs: Record<string, string>;
}

/** Full PBS job ids: `123`, `123.server.domain`, array jobs `123[].server`. */
export const PBS_JOB_ID_RE = /^\d+(?:\[\d*\])?(?:\.[A-Za-z0-9_-][A-Za-z0-9_.-]*)?$/;

/** True for a job id that is safe to pass to qstat/qdel unquoted. */
export function isValidPbsJobId(id: string): boolean {
  return PBS_JOB_ID_RE.test(id);
}

/** The number shown to people: `123.server` → `123`. */
export function displayJobNumber(id: string): string {
  return id.split('.')[0]!;
}

/**
 * Parse qsub's stdout: the first line that is a job id (`12345.pbs-server` or a bare `99999`).
 * Returns the full id (kept for qstat/qdel) or null.
 */
export function parseQsubOutput(stdout: string): string | null {
  for (const raw of stdout.split('\n')) {
    const line = raw.trim();
    if (PBS_JOB_ID_RE.test(line)) return line;
  }
  return null;
}

/** Re-join the tab-indented continuation lines qstat uses to wrap long values. */
export function joinContinuations(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.replace(/\r/g, '').split('\n')) {
    if (raw.startsWith('\t') && out.length && out[out.length - 1]!.trim() !== '') {
      out[out.length - 1] += raw.slice(1);
    } else out.push(raw);
  }
  return out;
}

/**
 * Split `Header: name` blocks of indented `key = value` lines (qstat -f, -Qf, -Bf) after re-joining
 * continuation lines.
 */
export function parseAttributeBlocks(
  text: string,
  header: string,
): { name: string; attrs: Record<string, string> }[] {
  const blocks: { name: string; attrs: Record<string, string> }[] = [];
  let current: { name: string; attrs: Record<string, string> } | null = null;
  const prefix = `${header}:`;
  for (const line of joinContinuations(text)) {
    if (line.startsWith(prefix)) {
      current = { name: line.slice(prefix.length).trim(), attrs: {} };
      blocks.push(current);
      continue;
    }
    if (!current) continue;
    const m = /^\s+([^\s=][^=]*?)\s*=\s?(.*)$/.exec(line);
    if (m) current.attrs[m[1]!] = m[2]!.replace(/\s+$/, '');
  }
  return blocks;
}

/** `qstat -f` text output (PBS Pro and Torque) → job records. */
export function parseQstatText(text: string): PbsJobRecord[] {
  return parseAttributeBlocks(text, 'Job Id').map((b) => ({ id: b.name, attrs: b.attrs }));
}

function flatten(prefix: string, value: unknown, out: Record<string, string>): void {
  if (value === null || value === undefined) return;
  if (typeof value === 'object' && !Array.isArray(value)) {
    if (prefix === 'Variable_List') return; // environment of the submitter: not needed, possibly large
    for (const [k, v] of Object.entries(value as Record<string, unknown>))
      flatten(prefix ? `${prefix}.${k}` : k, v, out);
    return;
  }
  out[prefix] = String(value);
}

/**
 * The JSON documents of concatenated `qstat -F json` outputs (one per chunk of ids). qstat prints
 * each document's braces alone on a line at column 0 and indents everything inside, so documents
 * are cut at those lines; text that does not look like that is taken as one document.
 */
export function splitJsonDocuments(text: string): string[] {
  const docs: string[] = [];
  let current: string[] | null = null;
  for (const line of text.replace(/\r/g, '').split('\n')) {
    if (current === null) {
      if (line === '{') current = [line];
      continue;
    }
    current.push(line);
    if (line === '}') {
      docs.push(current.join('\n'));
      current = null;
    }
  }
  if (current !== null) docs.push(current.join('\n')); // truncated: JSON.parse reports it
  if (!docs.length) {
    const start = text.indexOf('{');
    if (start >= 0) docs.push(text.slice(start));
  }
  return docs;
}

/**
 * PBS Pro `qstat -f -F json` → job records (nested objects flattened to dotted keys). Accepts
 * several concatenated documents (see {@link splitJsonDocuments}); throws a `SyntaxError` when one
 * of them is not valid JSON (older PBS Pro releases print unescaped backslashes and quotes).
 */
export function parseQstatJson(text: string): PbsJobRecord[] {
  const out: PbsJobRecord[] = [];
  for (const docText of splitJsonDocuments(text)) {
    const doc = JSON.parse(docText) as { Jobs?: Record<string, unknown> };
    for (const [id, job] of Object.entries(doc.Jobs ?? {})) {
      const attrs: Record<string, string> = {};
      flatten('', job, attrs);
      out.push({ id, attrs });
    }
  }
  return out;
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
function xmlUnescape(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (m, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(Number.parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(Number(e.slice(1)));
    return XML_ENTITIES[e] ?? m;
  });
}

/**
 * Torque `qstat -f -x` XML (`<Data><Job><Job_Id>…</Job_Id>…</Job></Data>`) → job records, nested
 * elements flattened to dotted keys (`<Resource_List><walltime>` → `Resource_List.walltime`).
 */
export function parseQstatXml(text: string): PbsJobRecord[] {
  const jobs: PbsJobRecord[] = [];
  const tagRe = /<(\/?)([A-Za-z_][\w.-]*)[^>]*?(\/?)>|<\?[^>]*\?>|<!--[\s\S]*?-->/g;
  const stack: string[] = [];
  let attrs: Record<string, string> | null = null;
  let textStart = 0;
  for (const m of text.matchAll(tagRe)) {
    if (!m[2]) continue; // declaration or comment
    const [, closing, name, selfClosing] = m;
    if (closing) {
      const open = stack.pop();
      if (open !== name) throw new Error(`malformed qstat XML: </${name}> closes <${open}>`);
      if (name === 'Job') {
        if (attrs?.Job_Id) {
          const { Job_Id: id, ...rest } = attrs;
          jobs.push({ id: id!, attrs: rest });
        }
        attrs = null;
      } else if (attrs && stack.length >= 2 && stack.includes('Job')) {
        const inner = text.slice(textStart, m.index);
        if (!inner.includes('<')) {
          const path = [...stack.slice(stack.indexOf('Job') + 1), name].join('.');
          attrs[path] = xmlUnescape(inner).trim();
        }
      }
    } else if (!selfClosing) {
      stack.push(name!);
      if (name === 'Job') attrs = {};
      textStart = m.index + m[0].length;
    }
  }
  return jobs;
}

/** Parse whichever `qstat -f` format `text` is in (JSON, XML or text). */
export function parseQstatJobs(text: string): PbsJobRecord[] {
  const t = text.trimStart();
  if (t.startsWith('{')) return parseQstatJson(t);
  if (t.startsWith('<')) return parseQstatXml(t);
  return parseQstatText(text);
}

/** `[[D:]HH:]MM:SS` (PBS walltime) → seconds; null when unparsable. */
export function parseDuration(text: string | undefined | null): number | null {
  if (!text) return null;
  const s = text.trim();
  if (!/^\d+(?::\d+){0,3}$/.test(s)) return null;
  const parts = s.split(':').map(Number);
  const mult = [1, 60, 3600, 86400];
  return parts.reverse().reduce((acc, n, i) => acc + n * mult[i]!, 0);
}

/** Seconds → `HH:MM:SS` (hours may exceed 24, as PBS accepts). */
export function formatWalltime(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(Math.floor(s / 3600))}:${p(Math.floor((s % 3600) / 60))}:${p(s % 60)}`;
}

/**
 * Slurm-style memory (`4G`, `500M`, `100K`, `1T`, bare number = megabytes) → PBS units
 * (`4gb`, `500mb`, `100kb`, `1tb`). Null when the text is not a size.
 */
export function toPbsMemory(memory: string): string | null {
  const m = /^\s*(\d+)\s*([KMGT])?B?\s*$/i.exec(memory);
  if (!m) return null;
  return `${m[1]}${(m[2] ?? 'M').toLowerCase()}b`;
}

/** GPU count of a `gpu:N` / `gpu:type:N` gres; null for any other gres (not translatable). */
export function gpuCountFromGres(gres: string | null): number | null {
  if (!gres) return null;
  const m = /^gpu(?::[A-Za-z0-9_.-]+)?:(\d+)$/.exec(gres.trim());
  return m ? Number(m[1]) : null;
}

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};
const CTIME_RE = /^(?:[A-Z][a-z]{2}\s+)?([A-Z][a-z]{2})\s+(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})\s+(\d{4})$/;

/**
 * Time attribute → ISO: epoch seconds (Torque XML, `history_timestamp`) or qstat's ctime text
 * `Tue May 12 15:27:15 2020`. qstat prints ctime text in the local time zone of the login shell,
 * so the backend runs `TZ=UTC qstat` and the text is read as UTC here.
 */
export function pbsTimeToIso(value: string | undefined): string | null {
  if (!value) return null;
  const v = value.trim();
  if (/^\d{9,}$/.test(v)) return new Date(Number(v) * 1000).toISOString();
  const m = CTIME_RE.exec(v);
  if (m && MONTHS[m[1]!] !== undefined) {
    const [, , day, h, min, s, year] = m;
    const ms = Date.UTC(Number(year), MONTHS[m[1]!]!, Number(day), Number(h), Number(min), Number(s));
    return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
  }
  return null;
}

/** Host names of `exec_host` (`node1/0*2+node2/1` or Torque `node1/0-3`). */
export function execHosts(value: string | undefined): string | null {
  if (!value) return null;
  const hosts = [...new Set(value.split('+').map((h) => h.split('/')[0]!.trim()))].filter(Boolean);
  return hosts.length ? hosts.join(',') : null;
}

/** Case-insensitive attribute lookup (`Exit_status` in PBS Pro, `exit_status` in Torque). */
export function attr(record: PbsJobRecord, name: string): string | undefined {
  if (name in record.attrs) return record.attrs[name];
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(record.attrs)) if (k.toLowerCase() === lower) return v;
  return undefined;
}
