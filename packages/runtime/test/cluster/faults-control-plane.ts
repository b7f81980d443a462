/**
 * The control plane as a child process, for the kill -9 fault test:
 *
 *   node --import tsx faults-control-plane.ts <config> <dataDir> <workflow>
 *
 * Creates the runtime on `<dataDir>`, starts it, creates a run of `<workflow>` if the store has none
 * (first launch), then keeps running and prints one JSON line per second:
 * `{"event":"status","runId":…,"status":…,"counts":…}`. The parent SIGKILLs it at random moments
 * and starts it again on the same data dir. It exits by itself (code 0) once the run has ended.
 */
import { dirname } from 'node:path';
import { createRuntime } from '../../src/index.js';

const [configPath, dataDir, workflow] = process.argv.slice(2);
if (!configPath || !dataDir || !workflow) {
  process.stderr.write('usage: faults-control-plane.ts <config> <dataDir> <workflow>\n');
  process.exit(2);
}

const say = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);

const runtime = await createRuntime({
  configPath,
  cwd: dirname(configPath),
  dataDir,
  pollIntervalMs: 1000,
  logger: {
    info: () => {},
    warn: (m) => process.stderr.write(`warn: ${m}\n`),
    error: (m) => process.stderr.write(`error: ${m}\n`),
  },
});
await runtime.start();
let runId = runtime.listRuns({ limit: 1 }).items[0]?.run.id;
if (!runId) {
  runId = (await runtime.runWorkflow(workflow)).run.id;
  say({ event: 'created', runId });
}
say({ event: 'ready', runId, pid: process.pid });

const timer = setInterval(() => {
  const s = runtime.getRun(runId!);
  say({ event: 'status', runId, status: s.status, counts: s.counts });
  if (s.status !== 'running' && s.status !== 'pending') {
    clearInterval(timer);
    void runtime.close().then(() => process.exit(0));
  }
}, 1000);
