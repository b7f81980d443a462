/**
 * The engine scenarios of the simulator suite (test/cluster/scenarios.ts) against the real
 * OpenPBS, with a short lost-job grace period: a backend that loses sight of a running or
 * finished job (e.g. `qstat -x` on a server without job history) fails these runs.
 */
import type { SshConnection } from '@scripthut/ssh';
import { afterAll, beforeAll } from 'vitest';
import { engineScenarios } from '../cluster/scenarios.js';
import { connect, HISTORY, MODE, makeBackend, pbsEnv, RUN, serverLogSubmissions, until } from './helpers.js';

let observer: SshConnection;
beforeAll(() => {
  observer = connect();
});
afterAll(async () => {
  await observer?.exec(`rm -rf "$HOME"/scripthut-test-logs/${RUN}-engine`).catch(() => undefined);
  await observer?.close();
});

engineScenarios({
  label: `OpenPBS ${pbsEnv('PBS_VERSION')}, job history ${MODE}`,
  connect,
  observer: () => observer,
  makeBackend: (ssh, maxConcurrent) => makeBackend(ssh, { maxConcurrent }),
  logDir: `~/scripthut-test-logs/${RUN}-engine`,
  submitted: serverLogSubmissions,
  // With history off the verdict comes from the MoM's kill line, which carries no exit status.
  walltimeExitCode: HISTORY ? -29 : null,
  deletedExitStatus: 271,
  deletedExitStatuses: async (o, ids) => {
    if (HISTORY) {
      return until('Exit_status of the deleted jobs', async () => {
        const text = (await o.exec(`qstat -x -f ${ids.join(' ')}`)).stdout;
        const found = [...text.matchAll(/Exit_status = (-?\d+)/g)].map((m) => Number(m[1]));
        return found.length === ids.length ? found : null;
      });
    }
    // No history: the server forgets them; check it did (they are not still running).
    await until('the deleted jobs to be gone', async () => {
      const r = await o.exec(`qstat ${ids.join(' ')}`);
      return (r.stderr.match(/Unknown Job Id/g) ?? []).length === ids.length;
    });
    return null;
  },
  engine: { lostJobGraceMs: 5_000 },
});
