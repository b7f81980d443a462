/**
 * Job arrays through the PBS simulator (PBS Pro flavour) over real SSH: the cases of
 * ../array-cases.ts, which the real OpenPBS runs too (../real-pbs/arrays.test.ts).
 */
import { pbsArrayCases } from '../array-cases.js';
import { connect, installSimulator, makeBackend, qsubLog, RUN } from './helpers.js';

pbsArrayCases({
  label: 'the PBS simulator (PBS Pro)',
  flavour: 'pro',
  server: 'pbssim',
  run: RUN,
  connect,
  makeBackend: (runner) => makeBackend(runner, 'pro', 50, null, { arrays: true }),
  setup: (observer) => installSimulator(observer, 'pro'),
  teardown: async (observer) => {
    await observer.exec('node "$HOME/bin/pbs-sim.mjs" __drain');
  },
  accepted: async (observer, prefix) => (await qsubLog(observer)).filter((j) => j.name.startsWith(prefix)),
});
