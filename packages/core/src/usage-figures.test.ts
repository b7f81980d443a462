import { describe, expect, it } from 'vitest';
import { specs } from '../test/helpers.js';
import type { TaskRecord } from './domain.js';
import type { TaskUsage } from './usage.js';
import {
  adviceGroupOf,
  formatBytes,
  percentile,
  runUsageSummary,
  suggestMemory,
  taskUsageFigures,
} from './usage-figures.js';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

function task(id: string, usage: Partial<TaskUsage> | null, spec: Record<string, unknown> = {}): TaskRecord {
  const [s] = specs({ id, ...spec });
  return {
    runId: 'r0000001',
    seq: 0,
    spec: s!,
    state: 'completed',
    submitTag: null,
    jobId: '1',
    pendingReason: null,
    exitCode: 0,
    error: null,
    script: null,
    stdoutPath: null,
    stderrPath: null,
    submittedAt: '2030-01-01T00:00:00Z',
    startedAt: '2030-01-01T00:00:00Z',
    finishedAt: '2030-01-01T01:00:00Z',
    node: 'n1',
    meta: {},
    version: 1,
    usage: usage && {
      status: 'ok',
      reason: null,
      source: 'sacct',
      requestedAt: null,
      elapsedSec: 3600,
      allocCpus: 1,
      cpuTimeSec: null,
      maxRssBytes: null,
      reqMemBytes: 4 * GIB,
      ...usage,
    },
  };
}

describe('helpers', () => {
  it('percentile (nearest rank), formatBytes, suggestMemory, adviceGroupOf', () => {
    expect(percentile([5, 1, 3, 2, 4], 95)).toBe(5);
    expect(
      percentile(
        Array.from({ length: 100 }, (_, i) => i + 1),
        95,
      ),
    ).toBe(95);
    expect(percentile([], 50)).toBeNull();
    expect(formatBytes(310 * MIB)).toBe('310M');
    expect(formatBytes(1.5 * GIB)).toBe('1.5G');
    expect(formatBytes(null)).toBe('—');
    expect(suggestMemory(350 * MIB)).toBe(512 * MIB);
    expect(suggestMemory(900 * MIB)).toBe(2 * GIB);
    expect(adviceGroupOf('pricing.eu.1')).toBe('pricing.eu.*');
    expect(adviceGroupOf('solo')).toBe('*');
  });
});

describe('taskUsageFigures', () => {
  it('CPU efficiency = CPU time / (elapsed × CPUs); memory efficiency = peak / request', () => {
    const f = taskUsageFigures(task('a', { allocCpus: 4, cpuTimeSec: 3600, maxRssBytes: GIB }));
    expect(f.cpuEfficiency).toBeCloseTo(0.25);
    expect(f.memEfficiency).toBeCloseTo(0.25);
    expect(f.cpuHoursAllocated).toBe(4);
    expect(f.cpuHoursUsed).toBe(1);
  });

  it('unknown inputs give null figures, never 0; no usage falls back to start/end and the request', () => {
    const f = taskUsageFigures(
      task('a', { status: 'unavailable', reason: 'sacct did not report', elapsedSec: null }),
    );
    expect([f.cpuEfficiency, f.memEfficiency, f.cpuHoursUsed, f.maxRssBytes]).toEqual([
      null,
      null,
      null,
      null,
    ]);
    expect(f.reason).toBe('sacct did not report');
    const batch = taskUsageFigures({ ...task('b', null, { cpus: 2 }), meta: { instanceType: 'c5.large' } });
    expect(batch).toMatchObject({
      status: 'none',
      elapsedSec: 3600,
      allocCpus: 2,
      cpuHoursAllocated: 2,
      instanceType: 'c5.large',
    });
    expect(batch.cpuEfficiency).toBeNull();
  });
});

describe('runUsageSummary', () => {
  it('totals CPU-hours and gives memory and CPU advice per dot-prefix group with the p95', () => {
    const tasks = [
      ...Array.from({ length: 20 }, (_, i) =>
        task(`pricing.${i}`, {
          allocCpus: 8,
          cpuTimeSec: 3600,
          maxRssBytes: (300 + i) * MIB,
          reqMemBytes: 4 * GIB,
        }),
      ),
      task('fit.a', { allocCpus: 2, cpuTimeSec: 7000, maxRssBytes: 3.5 * GIB, reqMemBytes: 4 * GIB }),
      task('other', { status: 'pending', elapsedSec: null, allocCpus: null }),
    ];
    const s = runUsageSummary(tasks);
    expect(s).toMatchObject({ tasks: 22, ok: 21, pending: 1, unavailable: 0 });
    expect(s.cpuHoursAllocated).toBeCloseTo(20 * 8 + 2 + 1);
    expect(s.cpuHoursUsed).toBeCloseTo(20 + 7000 / 3600);
    expect(s.peakRssBytes).toBe(3.5 * GIB);
    expect(s.advice.map((a) => a.message)).toEqual([
      'pricing.*: requested 4G, peak 319M (p95 318M): 512M would fit',
      'pricing.*: cpus 8, efficiency 13%: 1 CPU would do',
    ]);
    expect(s.advice[0]).toMatchObject({
      group: 'pricing.*',
      kind: 'memory',
      tasks: 20,
      suggested: 512 * MIB,
    });
  });

  it('no advice for well-sized groups or without figures', () => {
    expect(
      runUsageSummary([task('x.a', { allocCpus: 2, cpuTimeSec: 7000, maxRssBytes: 3 * GIB })]).advice,
    ).toEqual([]);
    expect(runUsageSummary([task('x.a', null)]).advice).toEqual([]);
  });
});
