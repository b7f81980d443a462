import type { SubmitRequest } from '@scripthut/core';
import { describe, expect, it } from 'vitest';
import { adoptLostArray, type LostArrayContext } from '../src/array-recovery.js';

const requests = [0, 1, 2].map(
  (i) =>
    ({
      taskId: `t${i}`,
      tag: `tag${i}`,
      array: { tag: 'tag0', index: i, size: 3 },
    }) as unknown as SubmitRequest,
);
const ctx = (found: Map<string, string> | Error): LostArrayContext & { lookups: string[][] } => {
  const lookups: string[][] = [];
  return {
    lookups,
    async findByTags(tags) {
      lookups.push(tags);
      if (found instanceof Error) throw found;
      return found;
    },
    markerPath: (tag) => `/m/${tag}`,
    elementJobId: (id, i) => `${id}_${i}`,
    isArrayJobId: (id) => /^\d+$/.test(id),
  };
};
const script = (i: number) => `script ${i}`;

describe('adoptLostArray', () => {
  it('adopts every element of an array found by its tag, with one lookup', async () => {
    const c = ctx(new Map([['tag0', '77']]));
    const out = await adoptLostArray(c, requests, script, 'connection lost');
    expect(c.lookups).toEqual([['tag0']]);
    expect(out.map((o) => (o.ok ? o.jobId : null))).toEqual(['77_0', '77_1', '77_2']);
    expect(out[1]).toMatchObject({
      script: 'script 1',
      meta: { tag: 'tag1', markerPath: '/m/tag1', recovered: true },
    });
  });

  it('leaves every element maybe-submitted when the array is not found, the lookup fails, or the id has the wrong shape', async () => {
    for (const c of [ctx(new Map()), ctx(new Error('ssh down')), ctx(new Map([['tag0', '-x']]))]) {
      const out = await adoptLostArray(c, requests, script, 'connection lost');
      expect(out.every((o) => !o.ok && o.maybeSubmitted && o.transient)).toBe(true);
      expect(out[0]!.ok ? '' : out[0]!.error).toMatch(/connection lost.*tag tag0/);
    }
  });
});
