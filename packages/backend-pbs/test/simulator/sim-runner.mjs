// The job runner: one detached process per job or array, enforcing walltime, slot limits and
// each flavour's states and exit statuses (see README.md).
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ctimeText } from './sim-format.mjs';
import {
  allJobs,
  config,
  HOME,
  HOST,
  isSubjob,
  JOBS,
  keyOf,
  nowS,
  PRO,
  readJob,
  sleep,
  subjobsOf,
  withLock,
  writeJob,
} from './sim-spool.mjs';

// ---------------------------------------------------------------------------------------------
// The job runner (one detached process per job)
// ---------------------------------------------------------------------------------------------

export function capacity(jobs, node) {
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
export function tryStart(j, jobs) {
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

export async function runJob(num) {
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
export const arrayExitClass = (e) => (e > 0 ? 1 : e < 0 ? 2 : 0);

/**
 * The runner of an array: starts its queued subjobs in index order as the node has room (at most
 * `max_run_subjobs` at once), runs each like a job, and ends the array (`F`, its subjobs `X` → `F`)
 * once none is queued, running or exiting. The array is `Q` until its first subjob starts, then `B`.
 */
export async function runArray(num) {
  const running = [];
  for (;;) {
    const started = withLock(() => {
      const parent = readJob(num);
      const subs = subjobsOf(parent);
      const queued = subs.filter((x) => x.state === 'Q');
      if (!queued.length && !subs.some((x) => x.state === 'H')) return null;
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
        parent.state = PRO ? 'B' : 'R';
        parent.stime = nowS();
        parent.mtime = parent.stime;
        if (PRO)
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
    // PBS Pro: the `X` subjobs become `F` with their array. Torque: each element is a job of its
    // own, already `C`, and kept for keep_completed like any job.
    for (const x of PRO ? subjobsOf(parent) : []) {
      x.state = 'F';
      x.mtime = t;
      x.compTime ??= t;
      writeJob(x);
    }
    parent.state = PRO ? 'F' : 'C';
    parent.compTime = t;
    parent.mtime = t;
    if (PRO) parent.exitStatus ??= 0;
    parent.comment = parent.comment ? `${parent.comment} and finished` : null;
    writeJob(parent);
  });
}

/** Run the started job (or subjob) `key` to its end: `R` → `E` → `F`/`C` (a subjob: `X`). */
export async function execute(key) {
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
    // PBS Pro sets PBS_ARRAY_INDEX and PBS_ARRAY_ID; Torque only PBS_ARRAYID (job_clone).
    ...(isSubjob(job)
      ? PRO
        ? { PBS_ARRAY_INDEX: String(job.index), PBS_ARRAY_ID: job.arrayId }
        : { PBS_ARRAYID: String(job.index) }
      : {}),
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
    j.state = isSubjob(j) && PRO ? 'X' : PRO ? 'F' : 'C';
    j.compTime = nowS();
    j.mtime = j.compTime;
    j.pid = null;
    writeJob(j);
    if (isSubjob(j) && PRO) {
      const parent = readJob(j.num);
      parent.exitStatus = arrayExitClass(j.exitStatus);
      parent.mtime = j.mtime;
      writeJob(parent);
    }
    if (isSubjob(j) && !PRO) releaseSlotHold(j.num);
  });
  rmSync(nodefile, { force: true });
}

/**
 * Torque with moab_array_compatible (array_func.c update_array_values): when an element ends, the
 * first element held by the slot limit (`l`) is released to `Q`. Under the lock.
 */
export function releaseSlotHold(num) {
  const held = subjobsOf(readJob(num)).find((x) => x.state === 'H' && x.holdTypes === 'l');
  if (!held) return;
  Object.assign(held, { state: 'Q', holdTypes: 'n', qtimeMs: 0, mtime: nowS() });
  writeJob(held);
}
