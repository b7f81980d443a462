/**
 * Job arrays through the PBS simulator speaking Torque (`qsub -t`, `PBS_ARRAYID`, elements
 * `N[i].torquesim` with `-<i>` appended to their names and log paths) over real SSH: the cases of
 * ../array-cases.ts, which the PBS Pro simulator and the real OpenPBS run too.
 */
import { pbsArrayCases } from '../array-cases.js';
import { connect, installSimulator, makeBackend, qsubLog, RUN } from './helpers.js';

pbsArrayCases({
  label: 'the PBS simulator (Torque)',
  flavour: 'torque',
  server: 'torquesim',
  run: RUN,
  connect,
  makeBackend: (runner) => makeBackend(runner, 'torque', 50, null, { arrays: true }),
  setup: (observer) => installSimulator(observer, 'torque'),
  teardown: async (observer) => {
    await observer.exec('node "$HOME/bin/pbs-sim.mjs" __drain');
  },
  accepted: async (observer, prefix) => (await qsubLog(observer)).filter((j) => j.name.startsWith(prefix)),
});
