/**
 * Job arrays on the real OpenPBS (run in both job-history modes): the cases of ../array-cases.ts,
 * which the simulator runs too (../cluster/pro-arrays.test.ts).
 */
import { pbsArrayCases } from '../array-cases.js';
import { connect, MODE, makeBackend, RUN, serverLogSubmissions } from './helpers.js';

pbsArrayCases({
  label: `the real OpenPBS (job history ${MODE})`,
  flavour: 'pro',
  server: 'pbshost',
  run: RUN,
  connect,
  makeBackend: (runner) => makeBackend(runner, { maxConcurrent: 50, arrays: true }),
  accepted: serverLogSubmissions,
});
