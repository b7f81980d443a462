import type { RunUsageSummary } from '@scripthut/core';
import { describe, expect, it } from 'vitest';
import { makeStyles } from '../../src/output.js';
import { renderRunUsage } from '../../src/render-usage.js';

const plain = makeStyles(false);

describe('renderRunUsage', () => {
  it('shows CPU-hours, efficiency, peak RSS, the figures count and the advice', () => {
    const u: RunUsageSummary = {
      tasks: 3,
      ok: 2,
      pending: 0,
      unavailable: 1,
      cpuHoursAllocated: 16,
      cpuHoursUsed: 2,
      cpuEfficiency: 0.125,
      wallSec: 7200,
      peakRssBytes: 310 * 1024 * 1024,
      advice: [
        {
          group: 'pricing.*',
          kind: 'cpus',
          tasks: 2,
          requested: 8,
          suggested: 1,
          message: 'pricing.*: cpus 8, efficiency 13%: 1 CPU would do',
        },
      ],
    };
    const text = renderRunUsage(u, plain)!;
    expect(text).toMatch(/CPU-hours: +16.00 allocated, 2.00 used \(CPU efficiency 13%\)/);
    expect(text).toMatch(/Peak RSS: +310M/);
    expect(text).toContain('2 task(s) measured, 1 unavailable');
    expect(text).toMatch(/Advice\n {2}pricing\.\*: cpus 8, efficiency 13%: 1 CPU would do/);
  });

  it('unknown CPU time is shown as unknown, not 0; nothing ended → no block', () => {
    const base = {
      tasks: 1,
      ok: 0,
      pending: 0,
      unavailable: 1,
      cpuHoursAllocated: 1,
      cpuHoursUsed: null,
      cpuEfficiency: null,
      wallSec: 3600,
      peakRssBytes: null,
      advice: [],
    };
    expect(renderRunUsage(base, plain)).toContain('1.00 allocated, — (unknown) used');
    expect(renderRunUsage({ ...base, unavailable: 0, cpuHoursAllocated: 0 }, plain)).toBeNull();
  });
});
