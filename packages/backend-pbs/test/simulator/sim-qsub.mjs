// qsub: directives, resources, array requests (PBS Pro -J, Torque -t) and job records (see README.md).
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { parseDuration } from './sim-format.mjs';
import { config, fail, JOBS, nowS, PRO, SPOOL, withLock, writeJob } from './sim-spool.mjs';

// ---------------------------------------------------------------------------------------------
// qsub
// ---------------------------------------------------------------------------------------------

/** Split a `#PBS` line's arguments (whitespace separated, double quotes group). */
export function splitArgs(text) {
  const out = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  let cur = null;
  let lastEnd = -1;
  for (const m of text.matchAll(re)) {
    const piece = m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2] !== undefined ? m[2] : m[3];
    if (cur !== null && m.index === lastEnd) cur += piece;
    else {
      if (cur !== null) out.push(cur);
      cur = piece;
    }
    lastEnd = m.index + m[0].length;
  }
  if (cur !== null) out.push(cur);
  return out;
}

export function parseOptions(args, opts) {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const take = () => {
      if (a.length > 2) return a.slice(2);
      i++;
      if (i >= args.length) fail(`qsub: option requires an argument -- '${a.slice(1)}'`, 2);
      return args[i];
    };
    if (a === '-V') opts.V = true;
    else if ((PRO ? /^-[NqAoejlWSkJ]/ : /^-[NqAoejlWSkt]/).test(a)) {
      const flag = a[1];
      const v = take();
      if (flag === 'l') opts.l.push(...v.split(/,(?=[a-z_]+=)/));
      else opts[flag] = v;
    } else if (a.startsWith('-')) fail(`qsub: invalid option -- '${a.slice(1)}'`, 2);
    else opts.file = a;
  }
}

export const MEM_RE = /^(\d+)(b|kb|mb|gb|tb|w|kw|mw|gw|tw)?$/i;
export const UNIT_KB = { b: 1 / 1024, kb: 1, mb: 1024, gb: 1024 ** 2, tb: 1024 ** 3 };
export function memKb(text) {
  const m = MEM_RE.exec(text);
  if (!m) return null;
  return Number(m[1]) * (UNIT_KB[(m[2] ?? 'b').toLowerCase()] ?? 1 / 1024);
}

export const QSUB_USAGE = `usage: qsub [-a date_time] [-A account_string] [-c interval]
\t[-C directive_prefix] [-e path] [-f ] [-h ] [-I [-X]] [-j oe|eo] [-J X-Y[:Z]]
\t[-k keep] [-l resource_list] [-m mail_options] [-M user_list]
\t[-N jobname] [-o path] [-p priority] [-P project] [-q queue] [-r y|n]
\t[-R o|e|oe] [-S path] [-u user_list] [-W otherattributes=value...]
\t[-v variable_list] [-V ] [-z] [script | -- command [arg1 ...]]
       qsub --version`;

/**
 * `-J X-Y[:Z][%M]` (PBS Pro): subjob indexes X, X+Z, … ≤ Y (X < Y, Z ≥ 1, as OpenPBS's
 * parse_subjob_index) and at most M subjobs running at once (`max_run_subjobs`). More subjobs than
 * the server's `max_array_size` (config `maxArraySize`, default 10000) are refused by the server.
 */
export function parseArrayRange(text) {
  const m = /^(\d+)-(\d+)(?::(\d+))?(?:%(\d+))?$/.exec(text);
  const [start, end, step] = m ? [Number(m[1]), Number(m[2]), m[3] === undefined ? 1 : Number(m[3])] : [];
  if (!m || start >= end || step < 1 || (m[4] !== undefined && Number(m[4]) < 1))
    fail(`qsub: illegal -J value\n${QSUB_USAGE}`, 2);
  const indices = [];
  for (let i = start; i <= end; i += step) indices.push(i);
  if (indices.length > (config.maxArraySize ?? 10_000))
    fail('qsub: Array job exceeds server or queue size limit', 3);
  return {
    indices,
    submitted: `${start}-${end}${m[3] === undefined ? '' : `:${step}`}`,
    maxRun: m[4] === undefined ? null : Number(m[4]),
  };
}

/**
 * Torque `-t` (array_func.c parse_array_request / set_slot_limit): a comma-separated list of
 * indexes `N` and ranges `A-B` (A ≤ B, no overlap), then `%M` (at most M elements running). More
 * elements than `max_job_array_size` (config `maxArraySize`, unset by default: no limit) or M over
 * `max_slot_limit` (config `maxSlotLimit`) are refused by the server; with `max_slot_limit` set and
 * no `%`, the array gets that limit.
 */
export function parseTorqueArray(text) {
  const bad = (msg) => fail(`qsub: submit error (Bad Job Array Request${msg ? ` MSG=${msg}` : ''})`, 1);
  const [list, slot, extra] = text.split('%');
  if (extra !== undefined || (slot !== undefined && !/^\d*$/.test(slot))) bad();
  const indices = [];
  for (const token of list.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(token);
    if (!m) bad();
    const [a, b] = [Number(m[1]), Number(m[2] ?? m[1])];
    if (b < a) bad();
    for (let i = a; i <= b; i++) indices.push(i);
  }
  indices.sort((x, y) => x - y);
  if (indices.some((x, i) => i > 0 && x === indices[i - 1])) bad();
  if (config.maxArraySize != null && indices.length > config.maxArraySize)
    bad(`Requested array size too large, limit is ${config.maxArraySize}`);
  let maxRun = slot ? Number(slot) : (config.maxSlotLimit ?? null);
  if (slot && config.maxSlotLimit != null && maxRun > config.maxSlotLimit)
    bad(`Requested slot limit too large, limit is ${config.maxSlotLimit}`);
  if (maxRun === 0) maxRun = null;
  return { indices, submitted: list, request: text, maxRun };
}

export function qsub(args) {
  const opts = { l: [] };
  parseOptions(args, opts);
  const script = opts.file ? readFileSync(opts.file, 'utf8') : readFileSync(0, 'utf8');
  if (!script.trim()) fail('qsub: script file is empty', 2);
  // Directives: `#PBS` lines up to the first executable line.
  const directives = [];
  for (const line of script.split('\n').slice(script.startsWith('#!') ? 1 : 0)) {
    const s = line.trim();
    if (s === '' || (s.startsWith('#') && !s.startsWith('#PBS'))) continue;
    if (!s.startsWith('#PBS')) break;
    directives.push(...splitArgs(s.slice(4)));
  }
  const fromScript = { l: [] };
  parseOptions(directives, fromScript);
  // Command-line options win over directives.
  const o = { ...fromScript, ...Object.fromEntries(Object.entries(opts).filter(([k]) => k !== 'l')) };
  o.l = [...fromScript.l, ...opts.l];

  const queueName = o.q ?? config.defaultQueue;
  const queue = config.queues.find((q) => q.name === queueName);
  if (!queue)
    fail(
      PRO ? 'qsub: Unknown queue' : 'qsub: submit error (Unknown queue MSG=requested queue not found)',
      170,
    );

  let ncpus = 1;
  let ngpus = 0;
  let mem = null;
  let walltime = 3600;
  let select = null;
  let nodes = null;
  for (const res of o.l) {
    const eq = res.indexOf('=');
    const key = eq < 0 ? res : res.slice(0, eq);
    const value = eq < 0 ? '' : res.slice(eq + 1);
    if (key === 'select') {
      if (!PRO) fail('qsub: submit error (Unknown resource type  MSG=cannot locate resource select)', 171);
      select = value;
      const chunks = value.split(':');
      if (!/^\d+$/.test(chunks[0]) || chunks[0] !== '1')
        fail('qsub: Illegal attribute or resource value Resource_List.select', 175);
      for (const c of chunks.slice(1)) {
        const [k, v] = c.split('=');
        if (k === 'ncpus') ncpus = Number(v);
        else if (k === 'ngpus') ngpus = Number(v);
        else if (k === 'mem') mem = v;
        else fail(`qsub: Unknown resource: ${k}`, 171);
      }
    } else if (key === 'nodes') {
      nodes = value;
      for (const c of value.split(':').slice(1)) {
        const [k, v] = c.split('=');
        if (k === 'ppn') ncpus = Number(v);
        else if (k === 'gpus') ngpus = Number(v);
      }
    } else if (key === 'ncpus') ncpus = Number(value);
    else if (key === 'ngpus') ngpus = Number(value);
    else if (key === 'mem') mem = value;
    else if (key === 'walltime') {
      const w = parseDuration(value);
      if (w === null)
        fail(
          PRO
            ? 'qsub: Illegal attribute or resource value Resource_List.walltime'
            : 'qsub: submit error (Illegal attribute or resource value MSG=walltime)',
          175,
        );
      walltime = w;
    } else
      fail(
        PRO
          ? `qsub: Unknown resource Resource_List.${key}`
          : `qsub: submit error (Unknown resource type  MSG=cannot locate resource ${key})`,
        171,
      );
  }
  if (!Number.isInteger(ncpus) || ncpus < 1)
    fail('qsub: Illegal attribute or resource value Resource_List.ncpus', 175);
  if (mem !== null && memKb(mem) === null)
    fail(
      PRO
        ? 'qsub: Illegal attribute or resource value Resource_List.mem'
        : 'qsub: submit error (Illegal attribute or resource value MSG=mem)',
      175,
    );
  if (queue.maxWalltime && walltime > parseDuration(queue.maxWalltime))
    fail(
      PRO
        ? 'qsub: Job violates queue and/or server resource limits'
        : 'qsub: submit error (Job exceeds queue resource limits MSG=cannot satisfy queue max walltime requirement)',
      188,
    );
  let name = o.N ?? (opts.file ? opts.file.split('/').pop() : 'STDIN');
  if (!PRO && name.length > 15) name = name.slice(0, 15);
  if (!/^[A-Za-z0-9]/.test(name)) fail('qsub: illegal -N value', 2);

  const array = PRO
    ? o.J === undefined
      ? null
      : parseArrayRange(o.J)
    : o.t === undefined
      ? null
      : parseTorqueArray(o.t);
  const workdir = process.cwd();
  const user = process.env.USER || process.env.LOGNAME || 'user';
  const job = withLock(() => {
    const seqFile = join(SPOOL, 'seq');
    const num = (existsSync(seqFile) ? Number(readFileSync(seqFile, 'utf8')) || 99 : 99) + 1;
    writeFileSync(seqFile, String(num));
    const id = array ? `${num}[].${config.server}` : `${num}.${config.server}`;
    const strip = (p) => p.replace(/^[^/:]+:/, '');
    const abs = (p) => (isAbsolute(p) ? p : resolve(workdir, p));
    // PBS Pro: an array's default log names end in `.^array_index^`, replaced by each subjob's
    // index. Torque appends `-<index>` to each element's paths and name (job_clone).
    const suffix = array && PRO ? '.^array_index^' : '';
    const outPath = abs(strip(o.o ?? `${name}.o${num}${suffix}`));
    const errPath = abs(strip(o.e ?? `${name}.e${num}${suffix}`));
    const t = nowS();
    const j = {
      num,
      id,
      name,
      owner: user,
      queue: queue.name,
      account: o.A ?? null,
      ncpus,
      ngpus,
      mem,
      walltime,
      select,
      nodes,
      outPath,
      errPath,
      join: o.j ?? 'n',
      state: 'Q',
      ctime: t,
      qtime: t,
      mtime: t,
      qtimeMs: Date.now(),
      stime: null,
      compTime: null,
      exitStatus: null,
      execHost: null,
      comment: null,
      workdir,
      path: process.env.PATH ?? '/usr/bin:/bin',
      submitArgs: args.join(' '),
      ...(array ? { array } : {}),
    };
    writeFileSync(join(JOBS, `${num}.sh`), script, { mode: 0o700 });
    // Subjob records first: a reader that sees the array sees its subjobs.
    for (const [n, index] of (array?.indices ?? []).entries()) {
      const element = { ...j, array: undefined, index, id: `${num}[${index}].${config.server}`, arrayId: id };
      if (!PRO) {
        // Torque's job_clone: `<name>-<i>`, `<path>-<i>`, PBS_ARRAYID; with moab_array_compatible
        // the elements past the slot limit are held (`l`) until a running one ends.
        Object.assign(element, {
          name: `${name}-${index}`,
          outPath: `${outPath}-${index}`,
          errPath: `${errPath}-${index}`,
        });
        if (array.maxRun && n >= array.maxRun) Object.assign(element, { state: 'H', holdTypes: 'l' });
      }
      writeJob(element);
    }
    writeJob(j);
    appendFileSync(join(SPOOL, 'qsub.log'), `${id} ${name}\n`);
    return j;
  });
  if (queue.type === 'Execution') {
    const child = spawn(
      process.execPath,
      [new URL('./pbs-sim.mjs', import.meta.url).pathname, '__run', String(job.num)],
      {
        detached: true,
        stdio: 'ignore',
        env: process.env,
        cwd: workdir,
      },
    );
    child.unref();
  }
  process.stdout.write(`${job.id}\n`);
}
