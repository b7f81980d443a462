import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jobNameFor, MAX_TAGGED_SEQ, makeSubmitTag, parseSubmitTag, tagOfJobName } from './tags.js';

describe('submit tags', () => {
  it('round-trip, stay short and [a-z0-9]', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[0-9a-f]{8}$/),
        fc.integer({ min: 0, max: MAX_TAGGED_SEQ }),
        fc.integer({ min: 1, max: 1000 }),
        (runId, seq, attempt) => {
          const tag = makeSubmitTag(runId, seq, attempt);
          expect(tag.length).toBeLessThanOrEqual(15);
          expect(tag).toMatch(/^[a-z0-9]+$/);
          expect(parseSubmitTag(tag)).toEqual({ runId, seq, attempt: attempt % 36 });
        },
      ),
    );
  });

  it('differs between attempts and tasks', () => {
    expect(makeSubmitTag('0a1b2c3d', 1234, 1)).toBe('sh0a1b2c3dya1');
    expect(makeSubmitTag('0a1b2c3d', 1, 1)).not.toBe(makeSubmitTag('0a1b2c3d', 1, 2));
    expect(makeSubmitTag('0a1b2c3d', 1, 1)).not.toBe(makeSubmitTag('0a1b2c3d', 2, 1));
  });

  it('rejects what it cannot encode', () => {
    expect(() => makeSubmitTag('XYZ', 1, 1)).toThrow();
    expect(() => makeSubmitTag('0a1b2c3d', MAX_TAGGED_SEQ + 1, 1)).toThrow(/out of range/);
    expect(parseSubmitTag('scripthut-1')).toBeNull();
    expect(parseSubmitTag('sh0a1b2c3d')).toBeNull();
  });
});

describe('job names', () => {
  it('puts a readable slice of the task name after the tag, within the length limit', () => {
    expect(jobNameFor('sh0a1b2c3d11', 'train model (lr=0.1)')).toBe('sh0a1b2c3d11-train_model_lr_0.1');
    expect(jobNameFor('sh0a1b2c3d11', '  ..hidden')).toBe('sh0a1b2c3d11-hidden');
    expect(jobNameFor('sh0a1b2c3d11', '!!!')).toBe('sh0a1b2c3d11');
    expect(jobNameFor('sh0a1b2c3d11', 'ünïcode name/with $(x) `y`')).toBe(
      'sh0a1b2c3d11-n_code_name_with_x_y',
    );
    const long = jobNameFor('sh0a1b2c3d11', 'x'.repeat(300), 40);
    expect(long).toHaveLength(40);
    expect(jobNameFor('sh0a1b2c3d11', 'abc', 12)).toBe('sh0a1b2c3d11');
  });

  it('finds the tag again in names made by jobNameFor and in bare tags, never in other names', () => {
    const tag = makeSubmitTag('0a1b2c3d', 1234, 7);
    expect(tagOfJobName(jobNameFor(tag, 'some task'))).toBe(tag);
    expect(tagOfJobName(tag)).toBe(tag);
    expect(tagOfJobName(`${tag}x-name`)).not.toBe(tag);
    expect(tagOfJobName('my-own-job')).toBeNull();
    expect(tagOfJobName('sh0a1b2c3d')).toBeNull();
  });
});
