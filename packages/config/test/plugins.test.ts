import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  INSTALLED_BACKENDS,
  installedBackendRegistry,
  loadBackendPlugins,
  loadConfig,
} from '../src/index.js';

const PLUGINS = join(import.meta.dirname, 'fixtures', 'plugins');
const NOMAD = join(PLUGINS, 'nomad.mjs');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scripthut-plugins-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function file(text: string): string {
  const path = join(dir, 'scripthut.yaml');
  writeFileSync(path, text);
  return path;
}

async function problems(text: string, plugins: string[] = [NOMAD]): Promise<string[]> {
  try {
    await loadConfig({ path: file(text), cwd: dir, plugins, checkFiles: false });
  } catch (e) {
    return (e as Error).message.split('\n').slice(1);
  }
  return [];
}

describe('backend plugins', () => {
  it('the installed types are the registry, in the order messages list them', () => {
    expect(installedBackendRegistry().types()).toEqual(['slurm', 'pbs', 'batch', 'ec2', 'ecs', 'local']);
    expect(INSTALLED_BACKENDS.map((p) => p.type)).toEqual(installedBackendRegistry().types());
  });

  it('a plugin module adds a type: its entries get defaults and the common fields', async () => {
    const loaded = await loadConfig({
      path: file('backends:\n  - name: n1\n    type: nomad\n    address: http://nomad:4646\n'),
      cwd: dir,
      plugins: [NOMAD],
    });
    expect(loaded.config.backends).toEqual([
      { name: 'n1', type: 'nomad', address: 'http://nomad:4646', slots: 2, env: [], env_groups: {} },
    ]);
    expect(loaded.backends.types()).toEqual(['slurm', 'pbs', 'batch', 'ec2', 'ecs', 'local', 'nomad']);
    expect(installedBackendRegistry().get('nomad')).toBeUndefined();
  });

  it('its fields fail with file:line:col like the installed ones, and its cross-field check runs', async () => {
    expect(
      await problems(
        'backends:\n  - name: n1\n    type: nomad\n    address: nomad:4646\n    slots: 9\n    slot: 1\n',
      ),
    ).toEqual([
      'scripthut.yaml:4:5 backends[0].address: expected an http(s) URL',
      'scripthut.yaml:5:5 backends[0].slots: expected a number <= 8, got 9',
      'scripthut.yaml:6:5 backends[0].slot: unknown field "slot"; did you mean "slots"?',
    ]);
  });

  it('without the plugin the type is unknown, with a did-you-mean among the installed types', async () => {
    expect(await problems('backends:\n  - name: n1\n    type: nomad\n    address: http://x\n', [])).toEqual([
      'scripthut.yaml:3:5 backends[0].type: expected one of "slurm", "pbs", "batch", "ec2", "ecs", "local", got "nomad"',
    ]);
    expect(await problems('backends:\n  - name: n1\n    type: nomadd\n    address: http://x\n')).toEqual([
      'scripthut.yaml:3:5 backends[0].type: expected one of "slurm", "pbs", "batch", "ec2", "ecs", "local", "nomad", got "nomadd"; did you mean "nomad"?',
    ]);
  });

  it('names the module that cannot be loaded, exports no plugin, or repeats a type', async () => {
    const base = installedBackendRegistry();
    await expect(loadBackendPlugins(base, ['./missing.mjs'], PLUGINS)).rejects.toThrow(
      'backend plugin "./missing.mjs" cannot be loaded',
    );
    await expect(loadBackendPlugins(base, ['./not-a-plugin.mjs'], PLUGINS)).rejects.toThrow(
      'backend plugin "./not-a-plugin.mjs" does not export a backend plugin',
    );
    await expect(loadBackendPlugins(base, [NOMAD, NOMAD], PLUGINS)).rejects.toThrow(
      'backend type "nomad" is registered twice',
    );
    expect(base.types()).not.toContain('nomad');
  });
});

describe('the ECS example', () => {
  it('packages/backend-ecs/examples/scripthut.yaml validates', async () => {
    const path = join(import.meta.dirname, '..', '..', 'backend-ecs', 'examples', 'scripthut.yaml');
    const loaded = await loadConfig({ path, checkFiles: false });
    expect(loaded.config.backends.map((b) => [b.name, b.type])).toEqual([
      ['ecs', 'ecs'],
      ['ecs-gpu', 'ecs'],
    ]);
  });
});
