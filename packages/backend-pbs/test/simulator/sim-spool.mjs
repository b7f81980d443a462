// The simulator's spool: flavour, configuration, job records, lock and id lookup (see README.md).
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';

export const HOME = process.env.HOME || homedir();
export const SPOOL = process.env.PBS_SIM_HOME || join(HOME, '.pbs-sim');
export const JOBS = join(SPOOL, 'jobs');
export const HOST = hostname();
mkdirSync(JOBS, { recursive: true });

export const flavour = (() => {
  try {
    const f = readFileSync(join(SPOOL, 'flavour'), 'utf8').trim();
    return f === 'torque' ? 'torque' : 'pro';
  } catch {
    return 'pro';
  }
})();
export const PRO = flavour === 'pro';

/** Simulated cluster; `<spool>/config.json` may override any field. */
export const config = (() => {
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

export const LOCK = join(SPOOL, 'lock.d');
export const sleepSync = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function withLock(fn) {
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
export const keyOf = (job) => (job.index == null ? String(job.num) : `${job.num}_${job.index}`);
export const jobFile = (key) => join(JOBS, `${key}.json`);
export function readJob(key) {
  try {
    return JSON.parse(readFileSync(jobFile(key), 'utf8'));
  } catch {
    return null;
  }
}
export function writeJob(job) {
  const tmp = `${jobFile(keyOf(job))}.tmp${process.pid}`;
  writeFileSync(tmp, JSON.stringify(job));
  renameSync(tmp, jobFile(keyOf(job)));
}
/** Every record: plain jobs, arrays and subjobs (by number, then index; the array before its subjobs). */
export function allJobs() {
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
export const subjobsOf = (parent) =>
  parent.array.indices.map((i) => readJob(`${parent.num}_${i}`)).filter(Boolean);
export const nowS = () => Math.floor(Date.now() / 1000);
export const finished = (j) => j.state === 'F' || j.state === 'C';
export const isSubjob = (j) => j.index != null;
/** Torque forgets completed jobs after keep_completed seconds; PBS Pro keeps history. */
export const visible = (j) => PRO || !finished(j) || nowS() - (j.compTime ?? 0) <= config.keepCompleted;

/**
 * The record an id names: `123`, `123[]` (an array), `123[7]` (a subjob), each with or without
 * `.server`. A plain number does not name an array, nor `[]` a plain job (as on a real server).
 */
export function lookup(idArg) {
  const m = /^(\d+)(?:\[(\d*)\])?(?:\..*)?$/.exec(idArg);
  if (!m) return null;
  const j = m[2] ? readJob(`${m[1]}_${Number(m[2])}`) : readJob(m[1]);
  if (!j || !visible(j)) return null;
  if (!m[2] && (m[0].includes('[]') ? !j.array : !!j.array)) return null;
  return j;
}

export function fail(msg, code) {
  writeSync(2, `${msg}\n`);
  process.exit(code);
}
