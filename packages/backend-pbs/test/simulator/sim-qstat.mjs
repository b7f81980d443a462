// qstat: jobs, arrays and their elements, queues (-Qf) and the server (-Bf) (see README.md).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { attrLine, hms, jobJson, jobText, jobXml, pad2, usedWalltime } from './sim-format.mjs';
import {
  allJobs,
  config,
  fail,
  finished,
  HOST,
  isSubjob,
  lookup,
  nowS,
  PRO,
  SPOOL,
  subjobsOf,
  visible,
} from './sim-spool.mjs';

// ---------------------------------------------------------------------------------------------
// qstat
// ---------------------------------------------------------------------------------------------

export function stateCounts(jobs) {
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

export function qstatQueues(full) {
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

export function qstatServer() {
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
    // Unset by default on Torque (no limit); shown only when the configuration sets them.
    if (config.maxArraySize != null) lines.push(attrLine('max_job_array_size', config.maxArraySize));
    if (config.maxSlotLimit != null) lines.push(attrLine('max_slot_limit', config.maxSlotLimit));
    let next = 100;
    try {
      next = Number(readFileSync(join(SPOOL, 'seq'), 'utf8')) + 1;
    } catch {}
    lines.push(attrLine('next_job_number', next), attrLine('moab_array_compatible', 'True'));
    lines.push(attrLine('pbs_version', config.version));
  }
  return `${lines.join('\n')}\n\n`;
}

export function qstatTable(jobs, alt) {
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

export function qstat(args) {
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
        else if (c === 't') f.t = true;
        else if (PRO && c === 'J') f.J = true;
        else if (c === 'w' || c === 'n' || c === '1' || c === 's') {
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
        // `-t` with an array's id: PBS Pro the array, then its subjobs; Torque its elements only.
        if (PRO || !(f.t && j.array)) jobs.push(j);
        if (f.t && j.array)
          jobs.push(
            ...subjobsOf(j)
              .filter(visible)
              .filter((x) => history || !finished(x)),
          );
      }
    }
  } else {
    jobs = allJobs()
      .filter(visible)
      .filter((j) => history || !finished(j))
      // subjobs only with -t; -J: arrays only (with -t, and their subjobs). Torque: the array's
      // summary line without -t, its elements instead of it with -t.
      .filter((j) => (isSubjob(j) ? f.t : PRO ? !f.J || j.array : !(f.t && j.array)));
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
