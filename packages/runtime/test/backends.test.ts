import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@scripthut/config';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildBackends } from '../src/backends.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scripthut-backends-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const YAML = `backends:
  - name: here
    type: local
    max_concurrent: 2
  - name: ecs
    type: ecs
    aws: { region: us-east-1, cluster_name: research }
    default_image: python:3.12-slim
    launch_type: EC2
  - name: batch
    type: batch
    aws: { region: us-east-1, job_queue: q }
    default_image: python:3.12-slim
`;

describe('buildBackends', () => {
  it('builds every configured backend through the plugin of its type (no network at build time)', async () => {
    writeFileSync(join(dir, 'scripthut.yaml'), YAML);
    const loaded = await loadConfig({ cwd: dir, checkFiles: false });
    const warnings: string[] = [];
    const built = await buildBackends(loaded.config.backends, {
      dataDir: dir,
      warn: (m) => warnings.push(m),
      registry: loaded.backends,
    });
    expect(built.map((b) => [b.config.name, b.backend?.type, b.error])).toEqual([
      ['here', 'local', null],
      ['ecs', 'ecs', null],
      ['batch', 'batch', null],
    ]);
    expect(built.map((b) => b.backend?.maxConcurrent)).toEqual([2, 100, 100]);
    expect(warnings).toEqual([]);
    for (const b of built) await b.backend?.close();
  });

  it('a type the registry does not know leaves the backend unavailable with a message naming the types', async () => {
    writeFileSync(join(dir, 'scripthut.yaml'), YAML);
    const loaded = await loadConfig({ cwd: dir, checkFiles: false });
    const foreign = {
      ...loaded.config.backends[0]!,
      type: 'nomad',
    } as unknown as (typeof loaded.config.backends)[number];
    const warnings: string[] = [];
    const [built] = await buildBackends([foreign], { dataDir: dir, warn: (m) => warnings.push(m) });
    expect(built).toMatchObject({ backend: null });
    expect(built!.error).toBe(
      'unknown backend type "nomad" (registered: slurm, pbs, batch, ec2, ecs, local)',
    );
    expect(warnings).toEqual([`backend here is unavailable: ${built!.error}`]);
  });
});
