#!/usr/bin/env node
import { qstat } from './sim-qstat.mjs';
import { qsub } from './sim-qsub.mjs';
import { releaseSlotHold, runJob } from './sim-runner.mjs';
// PBS Pro / Torque simulator for ScriptHut's tests: `qsub`, `qstat`, `qdel`, `qselect`, `pbsnodes` (the
// wrappers next to this file call `node pbs-sim.mjs <command> ...`). Jobs run as local background
// processes of the calling user with the requested walltime enforced by `timeout`; state lives in
// a spool directory (`$PBS_SIM_HOME`, default `~/.pbs-sim`). The output formats follow real PBS Pro
// (text and `-F json`) or Torque (text, and XML with `-x`), chosen by `<spool>/flavour`
// (`pro` | `torque`, default `pro`). See README.md.
import {
  allJobs,
  config,
  fail,
  finished,
  isSubjob,
  lookup,
  nowS,
  PRO,
  subjobsOf,
  visible,
  withLock,
  writeJob,
} from './sim-spool.mjs';

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
          for (const x of PRO ? subjobsOf(j) : []) {
            x.state = 'F';
            writeJob(x);
          }
          Object.assign(j, {
            state: PRO ? 'F' : 'C',
            compTime: t,
            mtime: t,
            comment: PRO ? 'Job deleted' : null,
          });
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
  if (j.state === 'Q' || j.state === 'H') {
    const t = nowS();
    if (isSubjob(j) && PRO)
      Object.assign(j, { state: 'X', compTime: t, mtime: t, comment: 'Subjob finished', exitStatus: 0 });
    else
      Object.assign(j, {
        state: PRO ? 'F' : 'C',
        compTime: t,
        mtime: t,
        comment: PRO ? 'Job deleted' : null,
        holdTypes: 'n',
      });
    writeJob(j);
    if (isSubjob(j) && !PRO) releaseSlotHold(j.num);
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
  // Torque's select walks the server's job list (req_select.c: alljobs), which holds the array's
  // elements, not the array: it lists `123[7].server`.
  const jobs = allJobs()
    .filter(visible)
    .filter((j) => (PRO ? (subjobs ? !j.array : !isSubjob(j)) : !j.array))
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
