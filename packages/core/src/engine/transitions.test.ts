import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { specs } from '../../test/helpers.js';
import { TASK_STATES, type TaskState, TERMINAL_TASK_STATES } from '../domain.js';
import { FakeBackend, MemoryRunStore } from '../testing/index.js';
import { EngineEvents } from './events.js';
import { Ledger } from './ledger.js';
import { createBackendIndex, newTaskRecord } from './run-index.js';
import { IllegalTransitionError, renderTransitionDocs, TASK_TRANSITIONS } from './transitions.js';

const DOC = join(import.meta.dirname, '../../../../docs/architecture.md');
const BLOCK = /(<!-- transitions:begin[^\n]*-->\n)([\s\S]*?)(<!-- transitions:end -->)/;

describe('the task state machine', () => {
  it('docs/architecture.md shows exactly the transitions table', () => {
    const text = readFileSync(DOC, 'utf8');
    const expected = `${renderTransitionDocs()}\n`;
    if (process.env.SCRIPTHUT_UPDATE_DOCS === '1') {
      writeFileSync(
        DOC,
        text.replace(BLOCK, (_, a: string, _b: string, c: string) => a + expected + c),
      );
    }
    const m = BLOCK.exec(readFileSync(DOC, 'utf8'));
    expect(m, 'docs/architecture.md lacks the transitions:begin/end markers').not.toBeNull();
    // To refresh it: SCRIPTHUT_UPDATE_DOCS=1 pnpm exec vitest run --project core transitions
    expect(m![2]).toBe(expected);
  });

  it('terminal states have no way out but a rerun in place, and every state is reachable from a new task', () => {
    for (const r of TASK_TRANSITIONS)
      if (r.by !== 'rerun') expect(TERMINAL_TASK_STATES).not.toContain(r.from);
      else expect([r.to, TERMINAL_TASK_STATES.includes(r.from!)]).toEqual(['pending', true]);
    const reached = new Set<TaskState | null>([null]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const r of TASK_TRANSITIONS)
        if (reached.has(r.from) && !reached.has(r.to)) {
          reached.add(r.to);
          grew = true;
        }
    }
    expect([...reached].filter((s) => s !== null).sort()).toEqual([...TASK_STATES].sort());
  });
});

function ledgerWithTask(strict: boolean) {
  const store = new MemoryRunStore();
  const errors: string[] = [];
  const logger = { info() {}, warn() {}, error: (m: string) => errors.push(m) };
  const ledger = new Ledger(
    store,
    new EngineEvents(),
    () => new Date('2030-01-01T00:00:00Z'),
    logger,
    strict,
  );
  const run = {
    id: '0a1b2c3d',
    workflowName: 'wf',
    backendName: 'fake',
    origin: { kind: 'adhoc' as const },
    createdAt: '2030-01-01T00:00:00Z',
    maxConcurrent: null,
    logDir: '/logs',
    baseDir: null,
    git: null,
    cancelRequestedAt: null,
    environments: {},
  };
  const tasks = specs({ id: 'a' }).map((s, i) => newTaskRecord(run, s, i));
  store.insertRun(run, tasks);
  const rs = ledger.register(run, createBackendIndex(new FakeBackend()), tasks);
  return { store, ledger, rs, errors };
}

describe('the ledger checks every state change', () => {
  it('strict (tests): an illegal transition throws before anything is written', () => {
    const { store, ledger, rs } = ledgerWithTask(true);
    expect(() =>
      ledger.commit([
        { rs, taskId: 'a', patch: { exitCode: 0 }, to: 'completed', by: 'scheduler', reason: 'x' },
      ]),
    ).toThrow(IllegalTransitionError);
    expect(store.getTask('0a1b2c3d', 'a')).toMatchObject({ state: 'pending', exitCode: null });
    expect(store.transitions('0a1b2c3d', 'a')).toEqual([]);
    expect(rs.counts.pending).toBe(1);
  });

  it('production: it is logged as an engine bug and applied', () => {
    const { store, ledger, rs, errors } = ledgerWithTask(false);
    ledger.commit([{ rs, taskId: 'a', patch: {}, to: 'completed', by: 'scheduler', reason: 'x' }]);
    expect(errors).toEqual([
      'ENGINE BUG: illegal task transition pending → completed by scheduler (run 0a1b2c3d task a: x); applied anyway',
    ]);
    expect(store.getTask('0a1b2c3d', 'a')!.state).toBe('completed');
  });

  it('the same transition with the right cause passes, and a cause is checked per change in a batch', () => {
    const { store, ledger, rs } = ledgerWithTask(true);
    ledger.commit([{ rs, taskId: 'a', patch: {}, to: 'submitting', by: 'submit', reason: null }]);
    expect(() =>
      ledger.commit([
        { rs, taskId: 'a', patch: {}, to: 'submitted', by: 'adopt', reason: null },
        { rs, taskId: 'a', patch: {}, to: 'pending', by: 'scheduler', reason: null },
      ]),
    ).toThrow(/submitted → pending by scheduler/);
    expect(store.getTask('0a1b2c3d', 'a')!.state).toBe('submitting');
  });
});
