import type { TaskSpec } from '../src/domain.js';
import { Engine, type EngineOptions } from '../src/engine/engine.js';
import { parseTaskDocument } from '../src/task-json.js';
import { FakeBackend, type FakeBackendOptions, MemoryRunStore } from '../src/testing/index.js';

/** Build validated TaskSpecs from task JSON objects. */
export function specs(...tasks: Record<string, unknown>[]): TaskSpec[] {
  return parseTaskDocument(
    tasks.map((t) => ({ name: String(t.id), command: `echo ${String(t.id)}`, ...t })),
    { knownEnvironments: ['env1'] },
  ).tasks;
}

/** A manual clock. */
/** `n` independent task specs `<prefix>0` … `<prefix>n-1`. */
export function independent(n: number, prefix = 't'): TaskSpec[] {
  return specs(...Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}` })));
}

export class Clock {
  ms = Date.parse('2030-01-01T00:00:00Z');
  now = () => new Date(this.ms);
  advance(ms: number) {
    this.ms += ms;
  }
}

export async function setup(
  o: {
    backend?: FakeBackendOptions;
    engine?: Partial<EngineOptions>;
    store?: MemoryRunStore;
    fake?: FakeBackend;
  } = {},
) {
  const store = o.store ?? new MemoryRunStore();
  const fake = o.fake ?? new FakeBackend({ maxConcurrent: 10, pollsToComplete: 1, ...o.backend });
  const clock = new Clock();
  const engine = new Engine({
    store,
    backends: [fake],
    pollIntervalMs: 1000,
    autoLoop: false,
    clusterInfoIntervalMs: 0,
    now: clock.now,
    ...o.engine,
  });
  await engine.start();
  /** Tick until no run is active (or maxTicks), advancing the clock by `stepMs` per tick. */
  const drive = async (maxTicks = 500, stepMs = 1000) => {
    for (let i = 0; i < maxTicks && engine.activeRunIds().length; i++) {
      await engine.tick(fake.name);
      clock.advance(stepMs);
    }
    if (engine.activeRunIds().length) throw new Error(`runs still active after ${maxTicks} ticks`);
  };
  const state = (runId: string, taskId: string) => store.getTask(runId, taskId)?.state;
  return { store, fake, clock, engine, drive, state };
}

export function adhoc(
  engine: Engine,
  tasks: TaskSpec[],
  extra: Partial<Parameters<Engine['createRun']>[0]> = {},
) {
  return engine.createRun({
    workflowName: 'wf',
    backendName: 'fake',
    origin: { kind: 'adhoc' },
    tasks,
    maxConcurrent: null,
    ...extra,
  });
}
