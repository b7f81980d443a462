/**
 * Hostile-string corpus (see hostile.test.ts) in rendered job scripts: Slurm, PBS Pro and Torque
 * job scripts rendered from every accepted hostile task, and under a hostile account or queue, are
 * executed with bash; no canary may ever appear. A renderer refusing a value is acceptable.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderPbsScript, ScriptRenderError } from '@scripthut/backend-pbs';
import { createSlurmBackend, type SlurmSsh } from '@scripthut/backend-slurm';
import type { SubmitRequest } from '@scripthut/core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  buildHostileInputs,
  corpus,
  expectNoCanary,
  type HostileInputs,
  removeRoot,
  root,
  runBash,
  workDir,
} from './hostile-corpus.js';

afterAll(removeRoot);

vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 });

describe('hostile strings', () => {
  let accepted: HostileInputs['accepted'];
  let rejected: HostileInputs['rejected'];
  let acceptedSpecs: HostileInputs['acceptedSpecs'];
  let configAccepted: HostileInputs['configAccepted'];
  let configRejected: HostileInputs['configRejected'];

  beforeAll(() => {
    ({ accepted, rejected, acceptedSpecs, configAccepted, configRejected } = buildHostileInputs());
  });

  it('Slurm job scripts rendered from hostile tasks and a hostile account run under bash without executing a canary', async () => {
    const fakeSsh: SlurmSsh = {
      remote: true,
      exec: async () => ({ stdout: '', stderr: '', exitCode: 0 }),
      health: () => ({ connected: true, lastError: null, endpoint: 'fake' }),
      commandLog: () => [],
      close: async () => undefined,
    };
    const accounts = [null, ...corpus('slurm.account')];
    let rendered = 0;
    let refused = 0;
    const scripts: string[] = [];
    for (const [ai, account] of accounts.entries()) {
      const backend = createSlurmBackend({
        name: 'render',
        ssh: fakeSsh,
        account,
        maxConcurrent: 1,
        markerDir: join(workDir, 'markers'),
      });
      // All tasks with the null account; one representative task with every hostile account.
      const specs = account === null ? acceptedSpecs : acceptedSpecs.slice(0, 1);
      for (const [i, task] of specs.entries()) {
        const req: SubmitRequest = {
          runId: 'abcd1234',
          taskId: task.id,
          tag: `shrnd${ai}x${i}`.slice(0, 15),
          workflowName: 'hostile',
          task,
          workingDir: task.workingDir,
          env: { SCRIPTHUT_RUN_ID: 'abcd1234', ...task.envVars },
          extraInit: '',
          stdoutPath: join(workDir, 'slurm-logs', `${i}.out`),
          stderrPath: join(workDir, 'slurm-logs', `${i}.err`),
          logDir: join(workDir, 'slurm-logs'),
          git: null,
        };
        let script: string;
        try {
          script = backend.renderScript(req);
        } catch (e) {
          refused++;
          expect(e).toBeInstanceOf(Error);
          continue;
        }
        rendered++;
        scripts.push(script);
      }
    }
    // Run every script with bash (each is also a plain bash program): one file each, one loop.
    const scriptDir = join(root, 'slurm-scripts');
    mkdirSync(scriptDir);
    for (const [i, script] of scripts.entries()) {
      writeFileSync(join(scriptDir, `${String(i).padStart(4, '0')}.sh`), script);
    }
    const ran = await runBash(
      `cd ${workDir} && printf '%s\\0' ${scriptDir}/*.sh | xargs -0 -P 8 -n 1 sh -c 'timeout 10 bash "$1" </dev/null >/dev/null 2>&1; echo x >> ${scriptDir}/count' sh`,
    );
    expect(ran).toBe(0);
    expect(readFileSync(join(scriptDir, 'count'), 'utf8').trim().split('\n')).toHaveLength(scripts.length);
    if (process.env.FAULTS_VERBOSE) {
      console.log(`[faults] hostile task fields accepted: ${JSON.stringify(accepted)}`);
      console.log(`[faults] hostile task fields rejected: ${JSON.stringify(rejected)}`);
      console.log(
        `[faults] config entries accepted ${configAccepted.length}, rejected ${configRejected.length}: ${JSON.stringify(Object.fromEntries([...new Set(configRejected)].map((f) => [f, configRejected.filter((x) => x === f).length])))}`,
      );
      console.log(
        `[faults] slurm scripts rendered and run with bash: ${rendered}, refused by the renderer: ${refused}`,
      );
    }
    expect(rendered).toBeGreaterThan(50);
    expect(refused + rendered).toBeGreaterThan(0);
    expectNoCanary();
  });

  it('PBS Pro and Torque job scripts rendered from hostile tasks, a hostile queue and a hostile account run under bash without executing a canary', async () => {
    const queues = corpus('pbs.queue');
    const accounts = corpus('pbs.account');
    const variants: {
      flavour: 'pro' | 'torque';
      queue: string | null;
      account: string | null;
      all: boolean;
    }[] = [];
    for (const flavour of ['pro', 'torque'] as const) {
      variants.push({ flavour, queue: null, account: null, all: true });
      for (const queue of queues) variants.push({ flavour, queue, account: null, all: false });
      for (const account of accounts) variants.push({ flavour, queue: null, account, all: false });
    }
    let rendered = 0;
    let refused = 0;
    let hostileOptionsRendered = 0;
    const scripts: string[] = [];
    for (const [vi, v] of variants.entries()) {
      // Every task with the plain options; one representative task under each hostile queue/account.
      const specs = v.all ? acceptedSpecs : acceptedSpecs.slice(0, 1);
      for (const [i, task] of specs.entries()) {
        const req: SubmitRequest = {
          runId: 'abcd1234',
          taskId: task.id,
          tag: `shpbs${vi}x${i}`.slice(0, 15),
          workflowName: 'hostile',
          task,
          workingDir: task.workingDir,
          env: { SCRIPTHUT_RUN_ID: 'abcd1234', ...task.envVars },
          extraInit: '',
          stdoutPath: join(workDir, 'pbs-logs', `${i}.out`),
          stderrPath: join(workDir, 'pbs-logs', `${i}.err`),
          logDir: join(workDir, 'pbs-logs'),
          git: null,
        };
        try {
          scripts.push(
            renderPbsScript(req, {
              flavour: v.flavour,
              queue: v.queue,
              account: v.account,
              exitMarkerPath: join(workDir, 'pbs-markers', `${req.tag}.rc`),
            }),
          );
          rendered++;
          if (!v.all) hostileOptionsRendered++;
        } catch (e) {
          // Refused tasks fail with this error naming the field (paths with `:`, quotes, `$`, …).
          refused++;
          expect(e).toBeInstanceOf(ScriptRenderError);
        }
      }
    }
    const scriptDir = join(root, 'pbs-scripts');
    mkdirSync(scriptDir);
    mkdirSync(join(workDir, 'pbs-markers'), { recursive: true });
    for (const [i, script] of scripts.entries()) {
      writeFileSync(join(scriptDir, `${String(i).padStart(4, '0')}.sh`), script);
    }
    const ran = await runBash(
      `cd ${workDir} && printf '%s\\0' ${scriptDir}/*.sh | xargs -0 -P 8 -n 1 sh -c 'timeout 10 bash "$1" </dev/null >/dev/null 2>&1; echo x >> ${scriptDir}/count' sh`,
    );
    expect(ran).toBe(0);
    expect(readFileSync(join(scriptDir, 'count'), 'utf8').trim().split('\n')).toHaveLength(scripts.length);
    if (process.env.FAULTS_VERBOSE) {
      console.log(
        `[faults] pbs scripts rendered and run with bash: ${rendered}, refused by the renderer: ${refused}`,
      );
    }
    // Most accepted tasks render under both flavours; every hostile queue and account is refused
    // (they must be one word), so none of those variants produced a script.
    expect(rendered).toBeGreaterThan(acceptedSpecs.length);
    expect(hostileOptionsRendered).toBe(0);
    expect(refused).toBeGreaterThanOrEqual(2 * (queues.length + accounts.length));
    expectNoCanary();
  });
});
