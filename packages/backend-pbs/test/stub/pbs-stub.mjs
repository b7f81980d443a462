#!/usr/bin/env node
// A scripted PBS Pro for the backend's unit tests (src/backend.test.ts): `qstat`, `qselect` and
// `qdel` answer from `$PBS_STUB/state.json` with the formats and messages of OpenPBS 23.06.06
// (see test/fixtures/openpbs-23.06.06) and log every call to `$PBS_STUB/calls.log` as
// `<command> <number of job ids> <options>`.
//   state.json: { history: bool, jsonFirstOnly?: bool, jobs: { "<id>": { state: "R"|"F"|…, name, exit?, malformed? } } }
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.PBS_STUB;
const st = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
const [cmd, ...args] = process.argv.slice(2);
const opts = args.filter((a) => a.startsWith('-'));
const ids = args.filter((a, i) => !a.startsWith('-') && !['-F', '-u', '-s'].includes(args[i - 1]));
const states = args.includes('-s') ? args[args.indexOf('-s') + 1] : null;
appendFileSync(join(dir, 'calls.log'), `${cmd} ${ids.length} ${opts.join(' ')}\n`);
const has = (o) =>
  opts.some((x) => x === o || (x.length > 2 && !x.startsWith('--') && x.includes(o.slice(1))));
const HIST = 'PBS is not configured to maintain job history';
let rc = 0;
const err = (line, code) => {
  process.stderr.write(`${line}\n`);
  rc = code;
};

if (cmd === 'qstat' && args[0] === '--version') process.stdout.write('pbs_version = 23.06.06\n');
else if (cmd === 'qstat' && has('-B'))
  process.stdout.write(
    `Server: stub\n    pbs_version = 23.06.06\n    job_history_enable = ${st.history ? 'True' : 'False'}\n`,
  );
else if (cmd === 'qstat') {
  const x = has('-x');
  const json = args.includes('json');
  const shown = [];
  for (const id of ids) {
    const j = st.jobs[id];
    if (x && !st.history) err(`qstat: ${HIST} ${id}`, 0);
    else if (!j || (j.state === 'F' && !st.history)) err(`qstat: Unknown Job Id ${id}`, 153);
    else if (j.state === 'F' && !x)
      err(`qstat: ${id} Job has finished, use -x or -H to obtain historical job information`, 35);
    else shown.push([id, j]);
  }
  if (json) {
    // OpenPBS main (openpbs/openpbs#2672) prints only the first of several jobs in JSON.
    const body = (st.jsonFirstOnly ? shown.slice(0, 1) : shown).map(([id, j]) => {
      const comment = j.malformed ? 'a \\, b' : 'ok'; // PBS Pro < 2020.1 printed such escapes (openpbs PR #2049)
      const exit = j.exit === undefined ? '' : `,\n\t\t\t"Exit_status":\t${j.exit}`;
      return `\t\t"${id}":\t{\n\t\t\t"Job_Name":\t"${j.name}",\n\t\t\t"job_state":\t"${j.state}",\n\t\t\t"comment":\t"${comment}"${exit}\n\t\t}`;
    });
    process.stdout.write(
      `{\n\t"timestamp":\t1795796937,\n\t"pbs_version":\t"23.06.06",\n\t"pbs_server":\t"stub"${body.length ? `,\n\t"Jobs":\t{\n${body.join(',\n')}\n\t}` : ''}\n}\n`,
    );
  } else
    for (const [id, j] of shown)
      process.stdout.write(
        `Job Id: ${id}\n    Job_Name = ${j.name}\n    job_state = ${j.state}\n    comment = ${j.malformed ? 'a \\, b' : 'ok'}\n${j.exit === undefined ? '' : `    Exit_status = ${j.exit}\n`}\n`,
      );
} else if (cmd === 'qselect') {
  if (has('-x') && !st.history) err(`qselect: ${HIST}`, 0);
  else
    for (const [id, j] of Object.entries(st.jobs))
      if ((j.state !== 'F' || (st.history && has('-x'))) && (!states || states.includes(j.state)))
        process.stdout.write(`${id}\n`);
} else if (cmd === 'qdel') {
  appendFileSync(join(dir, 'qdel.log'), `${ids.join(' ')}\n`);
  for (const id of ids) if (!st.jobs[id] || st.jobs[id].state === 'F') err(`qdel: Unknown Job Id ${id}`, 153);
}
process.exitCode = rc;
