import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FakeBackend } from '../testing/fake-backend.js';
import { int, maxConcurrent } from './config-fields.js';
import { BackendRegistry, defineBackend } from './define.js';

const toy = defineBackend({
  type: 'toy',
  description: 'A toy backend.',
  configSchema: z.strictObject({ max_concurrent: maxConcurrent(), slots: int(1, 8).default(2) }),
  async create(config) {
    return new FakeBackend({ name: config.name, maxConcurrent: config.max_concurrent });
  },
});

describe('defineBackend', () => {
  it('returns the plugin, whose create gets the typed config', async () => {
    const backend = await toy.create(
      { name: 'one', type: 'toy', max_concurrent: 3, slots: 2 },
      { dataDir: '/tmp', warn: () => {}, secretEnvNames: [] },
    );
    expect([backend.name, backend.maxConcurrent]).toEqual(['one', 3]);
  });

  it('refuses a bad type name and the fields every backend gets from the loader', () => {
    const schema = z.strictObject({});
    const create = async () => new FakeBackend();
    expect(() => defineBackend({ type: 'Bad Type', description: '', configSchema: schema, create })).toThrow(
      /must match/,
    );
    expect(() =>
      defineBackend({
        type: 'x',
        description: '',
        configSchema: z.strictObject({ name: z.string(), env: z.array(z.string()) }),
        create,
      }),
    ).toThrow(
      'backend plugin "x" declares name, env, which every backend gets from the configuration loader',
    );
  });
});

describe('BackendRegistry', () => {
  it('keeps registration order, finds by type, refuses duplicates and names the known types', () => {
    const other = defineBackend({ ...toy, type: 'other' });
    const registry = new BackendRegistry([toy]).register(other);
    expect(registry.types()).toEqual(['toy', 'other']);
    expect(registry.get('other')).toBe(other);
    expect(registry.get('nope')).toBeUndefined();
    expect(() => registry.require('nope')).toThrow('unknown backend type "nope" (registered: toy, other)');
    expect(() => registry.register(toy)).toThrow('backend type "toy" is registered twice');
  });

  it('clone() is independent of the original', () => {
    const registry = new BackendRegistry([toy]);
    const copy = registry.clone().register(defineBackend({ ...toy, type: 'more' }));
    expect(copy.types()).toEqual(['toy', 'more']);
    expect(registry.types()).toEqual(['toy']);
  });
});
