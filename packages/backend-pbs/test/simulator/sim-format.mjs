// Job attributes in each flavour's vocabulary and qstat's record formats: text, PBS Pro JSON,
// Torque XML (see README.md).
import { config, finished, HOME, HOST, isSubjob, nowS, PRO, subjobsOf } from './sim-spool.mjs';

// ---------------------------------------------------------------------------------------------
// Formatting helpers
// ---------------------------------------------------------------------------------------------

export const pad2 = (n) => String(n).padStart(2, '0');
export function hms(sec) {
  const s = Math.max(0, Math.floor(sec));
  return `${pad2(Math.floor(s / 3600))}:${pad2(Math.floor((s % 3600) / 60))}:${pad2(s % 60)}`;
}
export function parseDuration(text) {
  const parts = String(text).split(':').map(Number);
  if (parts.some((n) => !Number.isFinite(n))) return null;
  return parts.reduce((acc, n) => acc * 60 + n, 0);
}
/** `Tue May 12 15:27:15 2020` (ctime(3) style, as qstat prints times). */
export function ctimeText(epoch) {
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
export function attrLine(key, value) {
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
export const xmlEscape = (s) =>
  String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

// ---------------------------------------------------------------------------------------------
// Job attributes in each flavour's vocabulary
// ---------------------------------------------------------------------------------------------

export function usedWalltime(j) {
  if (j.stime == null) return 0;
  if (j.usedWalltime != null) return j.usedWalltime;
  return nowS() - j.stime;
}

/** Ordered [key, value] attributes of a job; nested resources use dotted keys. */
export function jobAttrs(j, times = 'text') {
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
  push('Hold_Types', j.holdTypes ?? 'n');
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
      ...(!PRO && isSubjob(j) ? [`PBS_ARRAYID=${j.index}`] : []),
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
  if (j.array && !PRO) push('job_array_request', j.array.request);
  if (!PRO && isSubjob(j)) push('job_array_id', j.index);
  if (j.array && PRO) {
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
  if (PRO && isSubjob(j) && j.stime != null) {
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
export function rangeText(indexes) {
  const parts = [];
  for (let i = 0; i < indexes.length; i++) {
    let k = i;
    while (k + 1 < indexes.length && indexes[k + 1] === indexes[k] + 1) k++;
    parts.push(k > i ? `${indexes[i]}-${indexes[k]}` : `${indexes[i]}`);
    i = k;
  }
  return parts.join(',') || '-';
}

export function jobText(j) {
  return [`Job Id: ${j.id}`, ...jobAttrs(j).map(([k, v]) => attrLine(k, v)), ''].join('\n');
}

export const NUMERIC_JSON = new Set([
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
export function jobJson(j) {
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

export function jobXml(j) {
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
