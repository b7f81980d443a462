#!/usr/bin/env node
// PBS Pro / Torque simulator for ScriptHut's tests: `qsub`, `qstat`, `qdel`, `qselect`, `pbsnodes` (the
// wrappers next to this file call `node pbs-sim.mjs <command> ...`). Jobs run as local background
// processes of the calling user with the requested walltime enforced by `timeout`; state lives in
// a spool directory (`$PBS_SIM_HOME`, default `~/.pbs-sim`). The output formats follow real PBS Pro
// (text and `-F json`) or Torque (text, and XML with `-x`), chosen by `<spool>/flavour`
// (`pro` | `torque`, default `pro`). See README.md.
import { spawn } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { homedir, hostname } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';

const HOME = process.env.HOME || homedir();
const SPOOL = process.env.PBS_SIM_HOME || join(HOME, '.pbs-sim');
const JOBS = join(SPOOL, 'jobs');
const HOST = hostname();
mkdirSync(JOBS, { recursive: true });

const flavour = (() => {
  try {
    const f = readFileSync(join(SPOOL, 'flavour'), 'utf8').trim();
    return f === 'torque' ? 'torque' : 'pro';
  } catch {
    return 'pro';
  }
})();
const PRO = flavour === 'pro';

/** Simulated cluster; `<spool>/config.json` may override any field. */
const config = (() => {
  const base = {
    server: PRO ? 'pbssim' : 'torquesim',
    version: PRO ? '19.1.3' : '6.1.3',
    nodes: [
      { name: 'node1', ncpus: 4, ngpus: 0, memKb: 8_000_000, state: 'free' },
      { name: 'node2', ncpus: 2, ngpus: 0, memKb: 4_000_000, state: 'offline' },
    ],
    queues: PRO
      ? [
          { name: 'workq', type: 'Execution', maxWalltime: null },
          { name: 'long', type: 'Execution', maxWalltime: '168:00:00' },
        ]
      : [
          { name: 'batch', type: 'Execution', maxWalltime: '100:00:00' },
          { name: 'long', type: 'Execution', maxWalltime: '168:00:00' },
          { name: 'routeq', type: 'Route', maxWalltime: null },
        ],
    defaultQueue: PRO ? 'workq' : 'batch',
    /** Minimum time a job stays queued (ms), so the Q state is observable. */
    minQueuedMs: 400,
    /** Torque keeps completed jobs this long (s). */
    keepCompleted: 300,
  };
  try {
    return { ...base, ...JSON.parse(readFileSync(join(SPOOL, 'config.json'), 'utf8')) };
  } catch {
    return base;
  }
})();

// ---------------------------------------------------------------------------------------------
// Spool: jobs/<num>.json (+ <num>.sh), a counter, a mkdir lock
// ---------------------------------------------------------------------------------------------

const LOCK = join(SPOOL, 'lock.d');
const sleepSync = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function withLock(fn) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > 10_000) rmSync(LOCK, { recursive: true, force: true });
      } catch {}
      if (Date.now() > deadline) throw new Error('pbs-sim: cannot take the spool lock');
      sleepSync(5 + Math.random() * 10);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/**
 * A job's spool key: `<num>` for a plain job or an array (its parent record), `<num>_<index>` for
 * one subjob of an array (PBS Pro `-J`).
 */
const keyOf = (job) => (job.index == null ? String(job.num) : `${job.num}_${job.index}`);
const jobFile = (key) => join(JOBS, `${key}.json`);
function readJob(key) {
  try {
    return JSON.parse(readFileSync(jobFile(key), 'utf8'));
  } catch {
    return null;
  }
}
function writeJob(job) {
  const tmp = `${jobFile(keyOf(job))}.tmp${process.pid}`;
  writeFileSync(tmp, JSON.stringify(job));
  renameSync(tmp, jobFile(keyOf(job)));
}
/** Every record: plain jobs, arrays and subjobs (by number, then index; the array before its subjobs). */
function allJobs() {
  const out = [];
  for (const f of readdirSync(JOBS)) {
    const m = /^(\d+(?:_\d+)?)\.json$/.exec(f);
    if (!m) continue;
    const j = readJob(m[1]);
    if (j) out.push(j);
  }
  return out.sort((a, b) => a.num - b.num || (a.index ?? -1) - (b.index ?? -1));
}
/** The subjob records of array `num`, in index order. */
const subjobsOf = (parent) => parent.array.indices.map((i) => readJob(`${parent.num}_${i}`)).filter(Boolean);
const nowS = () => Math.floor(Date.now() / 1000);
const finished = (j) => j.state === 'F' || j.state === 'C';
const isSubjob = (j) => j.index != null;
/** Torque forgets completed jobs after keep_completed seconds; PBS Pro keeps history. */
const visible = (j) => PRO || !finished(j) || nowS() - (j.compTime ?? 0) <= config.keepCompleted;

/**
 * The record an id names: `123`, `123[]` (an array), `123[7]` (a subjob), each with or without
 * `.server`. A plain number does not name an array, nor `[]` a plain job (as on a real server).
 */
function lookup(idArg) {
  const m = /^(\d+)(?:\[(\d*)\])?(?:\..*)?$/.exec(idArg);
  if (!m) return null;
  const j = m[2] ? readJob(`${m[1]}_${Number(m[2])}`) : readJob(m[1]);
  if (!j || !visible(j)) return null;
  if (!m[2] && (m[0].includes('[]') ? !j.array : !!j.array)) return null;
  return j;
}

// ---------------------------------------------------------------------------------------------
// Formatting helpers
// ---------------------------------------------------------------------------------------------

const pad2 = (n) => String(n).padStart(2, '0');
function hms(sec) {
  const s = Math.max(0, Math.floor(sec));
  return `${pad2(Math.floor(s / 3600))}:${pad2(Math.floor((s % 3600) / 60))}:${pad2(s % 60)}`;
}
function parseDuration(text) {
  const parts = String(text).split(':').map(Number);
  if (parts.some((n) => !Number.isFinite(n))) return null;
  return parts.reduce((acc, n) => acc * 60 + n, 0);
}
/** `Tue May 12 15:27:15 2020` (ctime(3) style, as qstat prints times). */
function ctimeText(epoch) {
  if (epoch == null) return null;
  const d = new Date(epoch * 1000);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  return `${days[d.getDay()]} ${months[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())} ${d.getFullYear()}`;
}
/**
 * `    key = value`, wrapped like qstat does: lines longer than 80 columns break after a comma or
 * space and continue on a tab-indented line.
 */
function attrLine(key, value) {
  let line = `    ${key} = ${value}`;
  const out = [];
  while (line.length > 79) {
    let cut = -1;
    for (let i = 78; i > 20; i--) {
      if (line[i] === ',' || line[i] === ' ') {
        cut = i + 1;
        break;
      }
    }
    if (cut < 0) break;
    out.push(line.slice(0, cut));
    line = `\t${line.slice(cut)}`;
  }
  out.push(line);
  return out.join('\n');
}
const xmlEscape = (s) =>
  String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

// ---------------------------------------------------------------------------------------------
// Job attributes in each flavour's vocabulary
// ---------------------------------------------------------------------------------------------

function usedWalltime(j) {
  if (j.stime == null) return 0;
  if (j.usedWalltime != null) return j.usedWalltime;
  return nowS() - j.stime;
}

/** Ordered [key, value] attributes of a job; nested resources use dotted keys. */
function jobAttrs(j, times = 'text') {
  const t = (epoch) => (times === 'epoch' ? (epoch == null ? null : String(epoch)) : ctimeText(epoch));
  const a = [];
  const push = (k, v) => {
    if (v !== null && v !== undefined) a.push([k, String(v)]);
  };
  push('Job_Name', j.name);
  push('Job_Owner', `${j.owner}@${HOST}`);
  if (j.stime != null && !j.array) {
    if (PRO) push('resources_used.cpupercent', 0);
    push('resources_used.cput', hms(0));
    if (!PRO) push('resources_used.energy_used', 0);
    push('resources_used.mem', '0kb');
    if (PRO) push('resources_used.ncpus', j.ncpus);
    push('resources_used.vmem', '0kb');
    push('resources_used.walltime', hms(usedWalltime(j)));
  }
  push('job_state', j.state);
  push('queue', j.queue);
  push('server', config.server);
  if (j.account) push('Account_Name', j.account);
  push('Checkpoint', 'u');
  push('ctime', t(j.ctime));
  push('Error_Path', `${HOST}:${j.errPath}`);
  if (j.execHost) push('exec_host', PRO ? `${j.execHost}/0*${j.ncpus}` : `${j.execHost}/0-${j.ncpus - 1}`);
  if (j.execHost && PRO) push('exec_vnode', `(${j.execHost}:ncpus=${j.ncpus})`);
  push('Hold_Types', 'n');
  push('Join_Path', j.join || 'n');
  push('Keep_Files', 'n');
  push('Mail_Points', 'a');
  push('mtime', t(j.mtime));
  push('Output_Path', `${HOST}:${j.outPath}`);
  push('Priority', 0);
  push('qtime', t(j.qtime));
  push('Rerunable', 'True');
  if (j.mem) push('Resource_List.mem', j.mem);
  if (PRO) {
    push('Resource_List.ncpus', j.ncpus);
    if (j.ngpus) push('Resource_List.ngpus', j.ngpus);
    push('Resource_List.nodect', 1);
    push('Resource_List.place', 'pack');
    push('Resource_List.select', j.select ?? `1:ncpus=${j.ncpus}`);
  } else {
    push('Resource_List.nodect', 1);
    push('Resource_List.nodes', j.nodes ?? `1:ppn=${j.ncpus}`);
  }
  push('Resource_List.walltime', hms(j.walltime));
  if (PRO) push('stime', t(j.stime));
  if (j.sessionId) push('session_id', j.sessionId);
  if (PRO) push('jobdir', HOME);
  if (PRO)
    push(
      'substate',
      j.state === 'X'
        ? j.stime == null
          ? 70
          : j.exitStatus === 0
            ? 92
            : 93
        : ({ Q: 10, R: 42, E: 51, B: 70, F: j.exitStatus == null ? 91 : 92 }[j.state] ?? 10),
    );
  push(
    'Variable_List',
    [
      `PBS_O_HOME=${HOME}`,
      `PBS_O_LOGNAME=${j.owner}`,
      `PBS_O_PATH=${j.path}`,
      `PBS_O_SHELL=/bin/bash`,
      `PBS_O_WORKDIR=${j.workdir}`,
      `PBS_O_HOST=${HOST}`,
      `PBS_O_QUEUE=${j.queue}`,
      `PBS_O_SYSTEM=Linux`,
    ].join(','),
  );
  if (!PRO) {
    push('euser', j.owner);
    push('egroup', j.owner);
    push('queue_type', 'E');
  }
  if (j.comment) push('comment', j.comment);
  push('etime', t(j.qtime));
  if (PRO && j.stime != null && !j.array) push('run_count', 1);
  if (j.exitStatus != null) push(PRO ? 'Exit_status' : 'exit_status', j.exitStatus);
  push(PRO ? 'Submit_arguments' : 'submit_args', j.submitArgs || null);
  if (j.array) {
    const subs = subjobsOf(j);
    const n = (st) => subs.filter((x) => x.state === st).length;
    push('array', 'True');
    push(
      'array_state_count',
      `Queued:${n('Q')} Running:${n('R')} Exiting:${n('E')} Expired:${n('X') + n('F')}`,
    );
    push('array_indices_submitted', j.array.submitted);
    push('array_indices_remaining', rangeText(subs.filter((x) => x.state === 'Q').map((x) => x.index)));
    if (j.array.maxRun) push('max_run_subjobs', j.array.maxRun);
  }
  if (isSubjob(j) && j.stime != null) {
    push('array_id', j.arrayId);
    push('array_index', j.index);
  }
  if (!PRO && j.stime != null) {
    push('start_time', t(j.stime));
    push('start_count', 1);
  }
  if (!PRO) push('fault_tolerant', 'False');
  if (finished(j) && j.compTime != null) push(PRO ? 'obittime' : 'comp_time', t(j.compTime));
  if (PRO) push('project', '_pbs_project_default');
  if (!PRO) {
    push('job_radix', 0);
    if (j.stime != null) push('total_runtime', `${usedWalltime(j)}.000000`);
    push('submit_host', HOST);
    push('init_work_dir', j.workdir);
    push('request_version', 1);
  }
  return a;
}

/** `0-4,7,9-10` (PBS's range text of a set of indexes), `-` when empty. */
function rangeText(indexes) {
  const parts = [];
  for (let i = 0; i < indexes.length; i++) {
    let k = i;
    while (k + 1 < indexes.length && indexes[k + 1] === indexes[k] + 1) k++;
    parts.push(k > i ? `${indexes[i]}-${indexes[k]}` : `${indexes[i]}`);
    i = k;
  }
  return parts.join(',') || '-';
}

function jobText(j) {
  return [`Job Id: ${j.id}`, ...jobAttrs(j).map(([k, v]) => attrLine(k, v)), ''].join('\n');
}

const NUMERIC_JSON = new Set([
  'Priority',
  'session_id',
  'substate',
  'run_count',
  'Exit_status',
  'ncpus',
  'nodect',
  'ngpus',
  'cpupercent',
  'array_index',
  'max_run_subjobs',
]);
function jobJson(j) {
  const obj = {};
  for (const [k, v] of jobAttrs(j)) {
    const [head, sub] = k.includes('.')
      ? [k.slice(0, k.indexOf('.')), k.slice(k.indexOf('.') + 1)]
      : [k, null];
    const conv = (key, val) => (NUMERIC_JSON.has(key) && /^-?\d+$/.test(val) ? Number(val) : val);
    if (head === 'Variable_List') {
      obj.Variable_List = Object.fromEntries(
        v.split(',').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
      );
    } else if (sub) {
      obj[head] ??= {};
      obj[head][sub] = conv(sub, v);
    } else obj[head] = conv(head, v);
  }
  return obj;
}

function jobXml(j) {
  const parts = [`<Job_Id>${xmlEscape(j.id)}</Job_Id>`];
  const groups = new Map();
  for (const [k, v] of jobAttrs(j, 'epoch')) {
    const i = k.indexOf('.');
    if (i > 0) {
      const head = k.slice(0, i);
      if (!groups.has(head)) {
        groups.set(head, []);
        parts.push({ group: head });
      }
      groups.get(head).push(`<${k.slice(i + 1)}>${xmlEscape(v)}</${k.slice(i + 1)}>`);
    } else parts.push(`<${k}>${xmlEscape(v)}</${k}>`);
  }
  return `<Job>${parts.map((p) => (typeof p === 'string' ? p : `<${p.group}>${groups.get(p.group).join('')}</${p.group}>`)).join('')}</Job>`;
}

// ---------------------------------------------------------------------------------------------
// qsub
// ---------------------------------------------------------------------------------------------

function fail(msg, code) {
  writeSync(2, `${msg}\n`);
  process.exit(code);
}

/** Split a `#PBS` line's arguments (whitespace separated, double quotes group). */
function splitArgs(text) {
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

function parseOptions(args, opts) {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const take = () => {
      if (a.length > 2) return a.slice(2);
      i++;
      if (i >= args.length) fail(`qsub: option requires an argument -- '${a.slice(1)}'`, 2);
      return args[i];
    };
    if (a === '-V') opts.V = true;
    else if ((PRO ? /^-[NqAoejlWSkJ]/ : /^-[NqAoejlWSk]/).test(a)) {
      const flag = a[1];
      const v = take();
      if (flag === 'l') opts.l.push(...v.split(/,(?=[a-z_]+=)/));
      else opts[flag] = v;
    } else if (a.startsWith('-')) fail(`qsub: invalid option -- '${a.slice(1)}'`, 2);
    else opts.file = a;
  }
}

const MEM_RE = /^(\d+)(b|kb|mb|gb|tb|w|kw|mw|gw|tw)?$/i;
const UNIT_KB = { b: 1 / 1024, kb: 1, mb: 1024, gb: 1024 ** 2, tb: 1024 ** 3 };
function memKb(text) {
  const m = MEM_RE.exec(text);
  if (!m) return null;
  return Number(m[1]) * (UNIT_KB[(m[2] ?? 'b').toLowerCase()] ?? 1 / 1024);
}

const QSUB_USAGE = `usage: qsub [-a date_time] [-A account_string] [-c interval]
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
function parseArrayRange(text) {
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

function qsub(args) {
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

  const array = o.J === undefined ? null : parseArrayRange(o.J);
  const workdir = process.cwd();
  const user = process.env.USER || process.env.LOGNAME || 'user';
  const job = withLock(() => {
    const seqFile = join(SPOOL, 'seq');
    const num = (existsSync(seqFile) ? Number(readFileSync(seqFile, 'utf8')) || 99 : 99) + 1;
    writeFileSync(seqFile, String(num));
    const id = array ? `${num}[].${config.server}` : `${num}.${config.server}`;
    const strip = (p) => p.replace(/^[^/:]+:/, '');
    const abs = (p) => (isAbsolute(p) ? p : resolve(workdir, p));
    // An array's default log names end in `.^array_index^`, replaced by each subjob's index.
    const suffix = array ? '.^array_index^' : '';
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
    for (const index of array?.indices ?? [])
      writeJob({ ...j, array: undefined, index, id: `${num}[${index}].${config.server}`, arrayId: id });
    writeJob(j);
    appendFileSync(join(SPOOL, 'qsub.log'), `${id} ${name}\n`);
    return j;
  });
  if (queue.type === 'Execution') {
    const child = spawn(process.execPath, [new URL(import.meta.url).pathname, '__run', String(job.num)], {
      detached: true,
      stdio: 'ignore',
      env: process.env,
      cwd: workdir,
    });
    child.unref();
  }
  process.stdout.write(`${job.id}\n`);
}

// ---------------------------------------------------------------------------------------------
// The job runner (one detached process per job)
// ---------------------------------------------------------------------------------------------

function capacity(jobs, node) {
  const used = jobs.filter((x) => x.execHost === node.name && (x.state === 'R' || x.state === 'E'));
  return {
    cpus: node.ncpus - used.reduce((n, x) => n + x.ncpus, 0),
    gpus: (node.ngpus ?? 0) - used.reduce((n, x) => n + (x.ngpus ?? 0), 0),
  };
}

/**
 * Under the lock: the node where queued job `j` can start now (its record then says so, and `jobs`
 * counts it), or null (PBS Pro then comments why it waits).
 */
function tryStart(j, jobs) {
  const nodes = config.nodes.filter((n) => n.state === 'free');
  const total = nodes.reduce((n, x) => n + x.ncpus, 0);
  const node = nodes.find((n) => {
    const c = capacity(jobs, n);
    return c.cpus >= j.ncpus && c.gpus >= (j.ngpus ?? 0);
  });
  if (!node) {
    const never = !nodes.some((n) => n.ncpus >= j.ncpus && (n.ngpus ?? 0) >= (j.ngpus ?? 0));
    const avail = nodes.reduce((n, x) => n + Math.max(0, capacity(jobs, x).cpus), 0);
    const comment = PRO
      ? `${never ? 'Can Never Run' : 'Not Running'}: Insufficient amount of resource: ncpus (R: ${j.ncpus} A: ${avail} T: ${total})`
      : null;
    if (!isSubjob(j) && (j.comment !== comment || !j.waitingSince || j.neverRuns !== never)) {
      j.comment = comment;
      j.waitingSince ??= Date.now();
      j.neverRuns = never;
      writeJob(j);
    }
    return null;
  }
  j.state = 'R';
  j.stime = nowS();
  j.stimeMs = Date.now();
  j.mtime = j.stime;
  j.execHost = node.name;
  j.comment = PRO ? `Job run at ${ctimeText(j.stime)} on (${node.name}:ncpus=${j.ncpus})` : null;
  if (isSubjob(j)) {
    // A running subjob has its own log paths (`^array_index^` replaced by its index).
    j.outPath = j.outPath.replaceAll('^array_index^', String(j.index));
    j.errPath = j.errPath.replaceAll('^array_index^', String(j.index));
  }
  writeJob(j);
  jobs.push(j);
  return node;
}

async function runJob(num) {
  if (readJob(num)?.array) return runArray(num);
  // Wait in Q until the node has room (FIFO among queued jobs that fit).
  for (;;) {
    const go = withLock(() => {
      const j = readJob(num);
      if (j?.state !== 'Q') return 'gone';
      if (Date.now() - j.qtimeMs < config.minQueuedMs) return 'wait';
      return tryStart(j, allJobs()) ? 'run' : 'wait';
    });
    if (go === 'gone') return;
    if (go === 'run') break;
    await sleep(150);
  }
  await execute(String(num));
}

/** PBS Pro's exit status of an array after a subjob ended with `e` (array_func.c: the last one decides). */
const arrayExitClass = (e) => (e > 0 ? 1 : e < 0 ? 2 : 0);

/**
 * The runner of an array: starts its queued subjobs in index order as the node has room (at most
 * `max_run_subjobs` at once), runs each like a job, and ends the array (`F`, its subjobs `X` → `F`)
 * once none is queued, running or exiting. The array is `Q` until its first subjob starts, then `B`.
 */
async function runArray(num) {
  const running = [];
  for (;;) {
    const started = withLock(() => {
      const parent = readJob(num);
      const subs = subjobsOf(parent);
      const queued = subs.filter((x) => x.state === 'Q');
      if (!queued.length) return null;
      if (Date.now() - parent.qtimeMs < config.minQueuedMs) return [];
      const jobs = allJobs();
      let live = subs.filter((x) => x.state === 'R' || x.state === 'E').length;
      const out = [];
      for (const x of queued) {
        if (parent.array.maxRun && live >= parent.array.maxRun) break;
        if (!tryStart(x, jobs)) break;
        live++;
        out.push(keyOf(x));
      }
      if (out.length && parent.state === 'Q') {
        parent.state = 'B';
        parent.stime = nowS();
        parent.mtime = parent.stime;
        parent.comment = `Job Array Began at ${ctimeText(parent.stime).slice(0, 10)} at ${ctimeText(parent.stime).slice(11, 16)}`;
        writeJob(parent);
      }
      return out;
    });
    if (started === null) break;
    for (const key of started) running.push(execute(key));
    await sleep(150);
  }
  await Promise.all(running);
  withLock(() => {
    const parent = readJob(num);
    const t = nowS();
    for (const x of subjobsOf(parent)) {
      x.state = 'F';
      x.mtime = t;
      x.compTime ??= t;
      writeJob(x);
    }
    parent.state = 'F';
    parent.compTime = t;
    parent.mtime = t;
    parent.exitStatus ??= 0;
    parent.comment = parent.comment ? `${parent.comment} and finished` : null;
    writeJob(parent);
  });
}

/** Run the started job (or subjob) `key` to its end: `R` → `E` → `F`/`C` (a subjob: `X`). */
async function execute(key) {
  const job = readJob(key);
  const script = join(JOBS, `${job.num}.sh`);
  const text = readFileSync(script, 'utf8');
  const shebang = /^#!\s*(\S+)(.*)$/.exec(text.split('\n', 1)[0]);
  const interp = shebang ? [shebang[1], ...shebang[2].trim().split(/\s+/).filter(Boolean)] : ['/bin/bash'];
  const nodefile = join(JOBS, `${key}.nodes`);
  writeFileSync(nodefile, `${Array(job.ncpus).fill(job.execHost).join('\n')}\n`);
  const open = (p) => {
    try {
      mkdirSync(dirname(p), { recursive: true });
      return openSync(p, 'a');
    } catch {
      return openSync('/dev/null', 'a');
    }
  };
  const outFd = open(job.outPath);
  const errFd = job.join === 'oe' ? outFd : open(job.errPath);
  const env = {
    HOME,
    USER: job.owner,
    LOGNAME: job.owner,
    SHELL: '/bin/bash',
    LANG: process.env.LANG ?? 'C.UTF-8',
    PATH: job.path,
    PBS_JOBID: job.id,
    PBS_JOBNAME: job.name,
    PBS_QUEUE: job.queue,
    PBS_O_WORKDIR: job.workdir,
    PBS_O_HOME: HOME,
    PBS_O_HOST: HOST,
    PBS_ENVIRONMENT: 'PBS_BATCH',
    PBS_NODEFILE: nodefile,
    PBS_NUM_PPN: String(job.ncpus),
    NCPUS: String(job.ncpus),
    ...(isSubjob(job) ? { PBS_ARRAY_INDEX: String(job.index), PBS_ARRAY_ID: job.arrayId } : {}),
  };
  const child = spawn('timeout', ['--signal=TERM', '--kill-after=3', `${job.walltime}s`, ...interp, script], {
    cwd: HOME,
    env,
    stdio: ['ignore', outFd, errFd],
    detached: true,
  });
  withLock(() => {
    const j = readJob(key);
    j.pid = child.pid;
    j.sessionId = child.pid;
    writeJob(j);
  });
  const exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
  let result = null;
  let killAt = null;
  while (!result) {
    result = await Promise.race([exited, sleep(300).then(() => null)]);
    if (result) break;
    const j = readJob(key);
    if (j?.deleteRequested) {
      killAt ??= Date.now() + 2000;
      if (Date.now() > killAt) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {}
      }
    }
  }
  closeSync(outFd);
  if (errFd !== outFd) closeSync(errFd);
  const endMs = Date.now();
  withLock(() => {
    const j = readJob(key);
    const elapsed = (endMs - j.stimeMs) / 1000;
    let status;
    if (j.deleteRequested) status = 271;
    else if ((result.code === 124 || result.code === 137) && elapsed >= j.walltime - 0.2) {
      status = PRO ? -29 : 271; // JOB_EXEC_KILL_WALLTIME / SIGTERM
      j.usedWalltime = Math.max(j.walltime, Math.floor(elapsed));
      j.walltimeExceeded = true;
    } else if (result.signal)
      status = 256 + ({ SIGTERM: 15, SIGKILL: 9, SIGINT: 2, SIGHUP: 1 }[result.signal] ?? 15);
    else status = result.code ?? 0;
    j.usedWalltime ??= Math.floor(elapsed);
    j.exitStatus = status;
    j.state = 'E';
    j.mtime = nowS();
    writeJob(j);
  });
  await sleep(300);
  withLock(() => {
    const j = readJob(key);
    j.state = isSubjob(j) ? 'X' : PRO ? 'F' : 'C';
    j.compTime = nowS();
    j.mtime = j.compTime;
    j.pid = null;
    writeJob(j);
    if (isSubjob(j)) {
      const parent = readJob(j.num);
      parent.exitStatus = arrayExitClass(j.exitStatus);
      parent.mtime = j.mtime;
      writeJob(parent);
    }
  });
  rmSync(nodefile, { force: true });
}

// ---------------------------------------------------------------------------------------------
// qdel
// ---------------------------------------------------------------------------------------------

function qdel(args) {
  const ids = args.filter((a) => !a.startsWith('-'));
  if (!ids.length && args.includes('--')) process.exit(0);
  if (!ids.length) fail('usage: qdel [-W force|suppress_email=X] [-x] job_identifier...', 2);
  let rc = 0;
  for (const arg of ids) {
    const err = withLock(() => {
      const j = lookup(arg);
      if (!j) return [`qdel: Unknown Job Id ${arg}`, 153];
      if (finished(j))
        return PRO
          ? [`qdel: Job has finished ${j.id}`, 35]
          : [`qdel: Invalid state for job - COMPLETE ${j.id}`, 170];
      if (j.state === 'X') return [`qdel: Request invalid for state of job ${j.id}`, 168];
      if (j.array) {
        // `qdel 123[]`: every queued subjob ends at once, running ones are killed; the array's
        // runner then ends the array (a never-started array ends here).
        for (const x of subjobsOf(j)) deleteOne(x);
        if (j.state === 'Q') {
          const t = nowS();
          for (const x of subjobsOf(j)) {
            x.state = 'F';
            writeJob(x);
          }
          Object.assign(j, { state: 'F', compTime: t, mtime: t, comment: 'Job deleted' });
          writeJob(j);
        }
        return null;
      }
      deleteOne(j);
      return null;
    });
    if (err) {
      process.stderr.write(`${err[0]}\n`);
      rc = err[1];
    }
  }
  process.exitCode = rc; // not process.exit(): it would cut piped stdout short
}

/**
 * Under the lock: delete one job or subjob. A queued one ends at once (a subjob: `X`, `Subjob
 * finished`, Exit_status 0 as the real server's record of a subjob that never ran); a running one
 * is killed by its runner (exit status 271).
 */
function deleteOne(j) {
  if (j.state === 'Q') {
    const t = nowS();
    if (isSubjob(j))
      Object.assign(j, { state: 'X', compTime: t, mtime: t, comment: 'Subjob finished', exitStatus: 0 });
    else
      Object.assign(j, {
        state: PRO ? 'F' : 'C',
        compTime: t,
        mtime: t,
        comment: PRO ? 'Job deleted' : null,
      });
    writeJob(j);
    return;
  }
  if (j.state !== 'R' && j.state !== 'E') return;
  j.deleteRequested = true;
  writeJob(j);
  if (j.pid) {
    try {
      process.kill(-j.pid, 'SIGTERM');
    } catch {}
  }
}

// ---------------------------------------------------------------------------------------------
// qstat
// ---------------------------------------------------------------------------------------------

function stateCounts(jobs) {
  const c = { Transit: 0, Queued: 0, Held: 0, Waiting: 0, Running: 0, Exiting: 0 };
  for (const j of jobs) {
    if (j.state === 'Q') c.Queued++;
    else if (j.state === 'R') c.Running++;
    else if (j.state === 'E') c.Exiting++;
  }
  const tail = PRO ? { Begun: 0 } : { Complete: jobs.filter((j) => j.state === 'C').length };
  return `${Object.entries({ ...c, ...tail })
    .map(([k, v]) => `${k}:${v}`)
    .join(' ')} `;
}

function qstatQueues(full) {
  const jobs = allJobs().filter(visible);
  if (!full) {
    const rows = config.queues.map((q) => {
      const qj = jobs.filter((j) => j.queue === q.name && !finished(j));
      return `${q.name.padEnd(16)} ${String(qj.length).padStart(5)} ${String(qj.filter((j) => j.state === 'R').length).padStart(5)}`;
    });
    return `Queue              Max   Tot Ena Str   Que   Run   Hld   Wat   Trn   Ext Type\n${rows.join('\n')}\n`;
  }
  const blocks = config.queues.map((q) => {
    const qj = jobs.filter((j) => j.queue === q.name);
    const lines = [`Queue: ${q.name}`, attrLine('queue_type', q.type)];
    lines.push(attrLine('total_jobs', qj.filter((j) => PRO || !finished(j)).length));
    lines.push(attrLine('state_count', stateCounts(qj)));
    if (q.maxWalltime) lines.push(attrLine('resources_max.walltime', q.maxWalltime));
    if (q.type === 'Execution') {
      if (!PRO) lines.push(attrLine('resources_default.walltime', '01:00:00'));
      lines.push(
        attrLine(
          'resources_assigned.ncpus',
          qj.filter((j) => j.state === 'R').reduce((n, j) => n + j.ncpus, 0),
        ),
      );
      lines.push(attrLine('resources_assigned.nodect', qj.filter((j) => j.state === 'R').length));
      if (PRO) lines.push(attrLine('hasnodes', 'True'));
    } else {
      lines.push(
        attrLine(
          'route_destinations',
          config.queues
            .filter((x) => x.type === 'Execution')
            .map((x) => x.name)
            .join(','),
        ),
      );
    }
    if (!PRO) lines.push(attrLine('mtime', nowS()));
    lines.push(attrLine('enabled', 'True'), attrLine('started', 'True'));
    return `${lines.join('\n')}\n`;
  });
  return `${blocks.join('\n')}\n`;
}

function qstatServer() {
  const jobs = allJobs().filter(visible);
  const running = jobs.filter((j) => j.state === 'R');
  const lines = [`Server: ${config.server}`, attrLine('server_state', 'Active')];
  if (PRO) lines.push(attrLine('server_host', HOST));
  lines.push(attrLine('scheduling', 'True'));
  if (!PRO) lines.push(attrLine('max_running', 300));
  lines.push(attrLine('total_jobs', jobs.filter((j) => PRO || !finished(j)).length));
  lines.push(attrLine('state_count', stateCounts(jobs)));
  if (!PRO) lines.push(attrLine('acl_hosts', HOST));
  lines.push(attrLine('default_queue', config.defaultQueue));
  if (PRO) lines.push(attrLine('max_array_size', config.maxArraySize ?? 10_000));
  lines.push(attrLine('log_events', 511), attrLine('mail_from', 'adm'));
  if (PRO) {
    lines.push(attrLine('query_other_jobs', 'True'));
    lines.push(attrLine('resources_default.ncpus', 1));
    lines.push(attrLine('default_chunk.ncpus', 1));
    lines.push(
      attrLine(
        'resources_assigned.ncpus',
        running.reduce((n, j) => n + j.ncpus, 0),
      ),
    );
    lines.push(attrLine('resources_assigned.nodect', running.length));
    lines.push(attrLine('scheduler_iteration', 600), attrLine('flatuid', 'True'));
    lines.push(attrLine('license_count', 'Avail_Global:10000000 Avail_Local:10000000 Used:0 High_Use:0'));
    lines.push(attrLine('pbs_version', config.version));
    lines.push(attrLine('eligible_time_enable', 'False'), attrLine('job_history_enable', 'True'));
  } else {
    lines.push(attrLine('scheduler_iteration', 600), attrLine('node_check_rate', 150));
    lines.push(attrLine('keep_completed', config.keepCompleted));
    let next = 100;
    try {
      next = Number(readFileSync(join(SPOOL, 'seq'), 'utf8')) + 1;
    } catch {}
    lines.push(attrLine('next_job_number', next), attrLine('moab_array_compatible', 'True'));
    lines.push(attrLine('pbs_version', config.version));
  }
  return `${lines.join('\n')}\n\n`;
}

function qstatTable(jobs, alt) {
  if (!alt) {
    const head =
      'Job id                    Name             User            Time Use S Queue\n------------------------- ---------------- --------------- -------- - -----\n';
    return (
      head +
      jobs
        .map(
          (j) =>
            `${j.id.padEnd(25).slice(0, 25)} ${j.name.padEnd(16).slice(0, 16)} ${j.owner.padEnd(15).slice(0, 15)} ${(j.stime ? hms(0) : '0').padStart(8)} ${j.state} ${j.queue}`,
        )
        .join('\n') +
      (jobs.length ? '\n' : '')
    );
  }
  const head = `\n${config.server}: \n                                                            Req'd  Req'd   Elap\nJob ID          Username Queue    Jobname    SessID NDS TSK Memory Time  S Time\n--------------- -------- -------- ---------- ------ --- --- ------ ----- - -----\n`;
  const hm = (s) => `${pad2(Math.floor(s / 3600))}:${pad2(Math.floor((s % 3600) / 60))}`;
  return (
    head +
    jobs
      .map((j) =>
        [
          j.id.padEnd(15).slice(0, 15),
          j.owner.padEnd(8).slice(0, 8),
          j.queue.padEnd(8).slice(0, 8),
          j.name.padEnd(10).slice(0, 10),
          String(j.sessionId ?? '--').padStart(6),
          '1'.padStart(3),
          String(j.ncpus).padStart(3),
          (j.mem ?? '--').padStart(6),
          hm(j.walltime).padStart(5),
          j.state,
          j.stime ? hm(usedWalltime(j)) : '--',
        ].join(' '),
      )
      .join('\n') +
    (jobs.length ? '\n' : '')
  );
}

function qstat(args) {
  const f = {
    f: false,
    x: false,
    Q: false,
    B: false,
    a: false,
    json: false,
    u: null,
    H: false,
    t: false,
    J: false,
  };
  const ids = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--version') {
      process.stdout.write(
        PRO
          ? `pbs_version = ${config.version}\n`
          : `Version: ${config.version}\nCommit: 0c4d5b7a3c2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e\n`,
      );
      return;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let k = 1; k < a.length; k++) {
        const c = a[k];
        if (c === 'F' || c === 'u') {
          const v = a.length > k + 1 ? a.slice(k + 1) : args[++i];
          if (c === 'F') {
            if (!PRO) fail(`qstat: invalid option -- 'F'`, 2);
            if (v !== 'json' && v !== 'dsv') fail('qstat: invalid -F value', 2);
            f.json = v === 'json';
          } else f.u = v;
          break;
        }
        if (c === 'f') f.f = true;
        else if (c === 'x') f.x = true;
        else if (c === 'Q') f.Q = true;
        else if (c === 'B') f.B = true;
        else if (c === 'a') f.a = true;
        else if (c === 'H') f.H = true;
        else if (PRO && c === 't') f.t = true;
        else if (PRO && c === 'J') f.J = true;
        else if (c === 'w' || c === 'n' || c === '1' || c === 's' || c === 't') {
        } else fail(`qstat: invalid option -- '${c}'\nusage: qstat [-f] [-a] [-x] [job_identifier...]`, 2);
      }
    } else ids.push(a);
  }
  if (f.Q) return void process.stdout.write(qstatQueues(f.f));
  if (f.B) return void process.stdout.write(qstatServer());
  const xml = !PRO && f.x;
  const history = PRO ? f.x || f.H : true;
  let rc = 0;
  const errors = [];
  let jobs;
  if (ids.length) {
    jobs = [];
    for (const id of ids) {
      const j = lookup(id);
      if (!j) {
        errors.push(`qstat: Unknown Job Id ${id}`);
        rc = 153;
      } else if (finished(j) && !history) {
        errors.push(`qstat: ${j.id} Job has finished, use -x or -H to obtain historical job information`);
        rc = 35;
      } else {
        jobs.push(j);
        // `-t` with an array's id: the array, then its subjobs.
        if (f.t && j.array) jobs.push(...subjobsOf(j).filter((x) => history || !finished(x)));
      }
    }
  } else {
    jobs = allJobs()
      .filter(visible)
      .filter((j) => history || !finished(j))
      // subjobs only with -t; -J: arrays only (with -t, and their subjobs)
      .filter((j) => (isSubjob(j) ? f.t : !f.J || j.array));
    if (f.u) jobs = jobs.filter((j) => j.owner === f.u);
  }
  let out = '';
  if (f.json) {
    const doc = {
      timestamp: nowS(),
      pbs_version: config.version,
      pbs_server: config.server,
      Jobs: Object.fromEntries(
        jobs.map((j) => [j.id, f.f ? jobJson(j) : { Job_Name: j.name, job_state: j.state }]),
      ),
    };
    if (!jobs.length && ids.length) delete doc.Jobs;
    out = `${JSON.stringify(doc, null, 4)}\n`;
  } else if (xml) {
    out = jobs.length ? `<Data>${jobs.map(jobXml).join('')}</Data>\n` : '';
  } else if (f.f) {
    out = jobs.map((j) => `${jobText(j)}\n`).join('');
  } else {
    out = jobs.length ? qstatTable(jobs, f.a || !!f.u) : '';
  }
  process.stdout.write(out);
  if (errors.length) process.stderr.write(`${errors.join('\n')}\n`);
  process.exitCode = rc; // not process.exit(): it would cut piped stdout short
}

// ---------------------------------------------------------------------------------------------
// qselect
// ---------------------------------------------------------------------------------------------

/**
 * `qselect [-u user] [-s states] [-x]`: ids of the matching jobs, one per line (PBS Pro: finished
 * only with -x).
 */
function qselect(args) {
  let user = null;
  let states = null;
  let history = !PRO;
  let subjobs = false;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '-u') user = args[++i];
    else if (args[i] === '-s') states = args[++i];
    else if (args[i] === '-x') history = true;
    else if (PRO && args[i] === '-T') subjobs = true;
    else fail(`qselect: invalid option ${args[i]}`, 2);
  }
  // Plain qselect lists an array as `123[]`; -T lists its subjobs instead (as OpenPBS 23.06).
  const jobs = allJobs()
    .filter(visible)
    .filter((j) => (subjobs ? !j.array : !isSubjob(j)))
    .filter((j) => history || !finished(j))
    .filter((j) => !states || states.includes(j.state))
    .filter((j) => !user || j.owner === user);
  process.stdout.write(jobs.map((j) => `${j.id}\n`).join(''));
}

// ---------------------------------------------------------------------------------------------
// pbsnodes
// ---------------------------------------------------------------------------------------------

function pbsnodes() {
  const jobs = allJobs().filter((j) => j.state === 'R' || j.state === 'E');
  const blocks = config.nodes.map((n) => {
    const mine = jobs.filter((j) => j.execHost === n.name);
    const used = mine.reduce((k, j) => k + j.ncpus, 0);
    const gused = mine.reduce((k, j) => k + (j.ngpus ?? 0), 0);
    const state =
      n.state !== 'free' ? n.state : used >= n.ncpus ? (PRO ? 'job-busy' : 'job-exclusive') : 'free';
    const l = [n.name];
    const at = (k, v) => l.push(`     ${k} = ${v}`);
    if (PRO) {
      at('Mom', n.name);
      at('Port', 15002);
      at('pbs_version', config.version);
      at('ntype', 'PBS');
      at('state', state);
      at('pcpus', n.ncpus);
      if (mine.length) at('jobs', mine.map((j) => `${j.id}/0`).join(', '));
      at('resources_available.arch', 'linux');
      at('resources_available.host', n.name);
      at('resources_available.mem', `${n.memKb}kb`);
      at('resources_available.ncpus', n.ncpus);
      if (n.ngpus) at('resources_available.ngpus', n.ngpus);
      at('resources_available.vnode', n.name);
      at('resources_assigned.mem', '0kb');
      at('resources_assigned.ncpus', used);
      if (n.ngpus) at('resources_assigned.ngpus', gused);
      at('resources_assigned.vmem', '0kb');
      at('resv_enable', 'True');
      at('sharing', 'default_shared');
    } else {
      at('state', state);
      at('power_state', 'Running');
      at('np', n.ncpus);
      at('ntype', 'cluster');
      if (mine.length) at('jobs', mine.map((j) => `0-${j.ncpus - 1}/${j.id}`).join(','));
      if (n.state !== 'offline' && n.state !== 'down')
        at(
          'status',
          `opsys=linux,uname=Linux ${n.name},sessions=${mine.map((j) => j.sessionId).join(' ') || '0'},nsessions=${mine.length},nusers=${mine.length ? 1 : 0},idletime=100,totmem=${n.memKb}kb,availmem=${n.memKb}kb,physmem=${n.memKb}kb,ncpus=${n.ncpus},loadave=0.00,gres=,netload=0,state=free,varattr= ,cpuclock=Fixed,version=${config.version},rectime=${nowS()},jobs=${mine.map((j) => j.id).join(' ')}`,
        );
      at('mom_service_port', 15002);
      at('mom_manager_port', 15003);
      if (n.ngpus) at('gpus', n.ngpus);
      at('total_sockets', 1);
      at('total_numa_nodes', 1);
      at('total_cores', n.ncpus);
      at('total_threads', n.ncpus);
      at('dedicated_sockets', 0);
      at('dedicated_numa_nodes', 0);
      at('dedicated_cores', 0);
      at('dedicated_threads', used);
    }
    return `${l.join('\n')}\n`;
  });
  process.stdout.write(`${blocks.join('\n')}\n`);
}

// ---------------------------------------------------------------------------------------------

const [cmd, ...rest] = process.argv.slice(2);
switch (cmd) {
  case 'qsub':
    qsub(rest);
    break;
  case 'qstat':
    qstat(rest);
    break;
  case 'qdel':
    qdel(rest);
    break;
  case 'qselect':
    qselect(rest);
    break;
  case 'pbsnodes':
    if (!rest.includes('-a')) fail('pbsnodes: only -a is simulated', 2);
    pbsnodes();
    break;
  case '__drain':
    // Test teardown: delete every job that has not finished (their runners then exit).
    qdel(
      allJobs()
        .filter((j) => !finished(j) && !isSubjob(j))
        .map((j) => j.id)
        .concat('--'),
    );
    break;
  case '__run':
    await runJob(Number(rest[0]));
    break;
  default:
    fail(`pbs-sim: unknown command ${cmd}`, 2);
}
