import { BackendError } from '@scripthut/core';
import { describe, expect, it } from 'vitest';
import { tracked } from '../test/backend-harness.js';
import { ScriptedSsh } from '../test/scripted-ssh.js';
import { createSlurmBackend } from './backend.js';

describe('job arrays (scripted)', () => {
  it('MaxArraySize is read once per connection; a restricted scontrol means no arrays, not a failure', async () => {
    let rc = 0;
    const ssh = new ScriptedSsh((command) => ({
      stdout: command.includes('scontrol show config') ? 'MaxArraySize            = 1001\n' : '',
      stderr: rc ? 'scontrol: error: access denied' : '',
      exitCode: rc,
    }));
    const b = createSlurmBackend({ name: 'x', ssh, maxConcurrent: 1, arrays: true });
    expect(await b.arrays!.maxSize()).toBe(1000); // capped so the script stays below max_script_size
    expect(await b.arrays!.maxSize()).toBe(1000);
    expect(ssh.calls.filter((c) => c.command.includes('scontrol show config'))).toHaveLength(1);
    rc = 1;
    const restricted = createSlurmBackend({ name: 'y', ssh, maxConcurrent: 1, arrays: true });
    expect(await restricted.arrays!.maxSize()).toBe(0);
    expect(createSlurmBackend({ name: 'z', ssh, maxConcurrent: 1, arrays: false }).arrays).toBeUndefined();
    expect(createSlurmBackend({ name: 'z', ssh, maxConcurrent: 1 }).arrays).toBeUndefined(); // opt-in
  });
});

describe('clusterInfo, findByTags, externalJobs (scripted)', () => {
  it('clusterInfo: partitions, totals, pending reasons and disk in ONE exec', async () => {
    const ssh = new ScriptedSsh(() => ({
      stdout:
        '@@sinfo\nnormal*|up|1|idle|0/2/0/2|1-00:00:00\nlong|up|1|idle|0/2/0/2|7-00:00:00\n@@nodes\nvm|0/2/0/2\nvm|0/2/0/2\n@@pd\nResources\nPriority\nResources\n@@df\nFilesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda1 1000 400 600 40% /\n@@end\n',
      stderr: '',
      exitCode: 0,
    }));
    const b = createSlurmBackend({ name: 'x', ssh, maxConcurrent: 1, cloneDir: '~/repos' });
    const info = await b.clusterInfo();
    expect(ssh.calls).toHaveLength(1);
    expect(ssh.calls[0]!.options.stdin).toContain('"$HOME"/repos');
    expect(info).toEqual({
      cpusIdle: 2,
      cpusTotal: 2,
      partitions: [
        {
          name: 'normal',
          isDefault: true,
          cpusIdle: 2,
          cpusTotal: 2,
          cpusAllocated: 0,
          nodes: 1,
          timeLimit: '1-00:00:00',
          state: 'idle',
        },
        {
          name: 'long',
          isDefault: false,
          cpusIdle: 2,
          cpusTotal: 2,
          cpusAllocated: 0,
          nodes: 1,
          timeLimit: '7-00:00:00',
          state: 'idle',
        },
      ],
      pendingReasons: { Resources: 2, Priority: 1 },
      disk: { path: '~/repos', totalBytes: 1024000, availableBytes: 614400 },
    });
  });

  it("findByTags: one exec listing the user's jobs, names matched by tag prefix", async () => {
    const ssh = new ScriptedSsh(() => ({
      stdout:
        'noise\n@@squeue -\n12|sh0a1b2c3d11-train_a\n20|sh0a1b2c3d31-array5_x\n\n@@sacct -\n9|sh0a1b2c3d21\n13|sh0a1b2c3d111-other\n14|sh0a1b2c3d11x\n20_3|sh0a1b2c3d31-array5_x\n20_[4-9%2]|sh0a1b2c3d31-array5_x\n7_x|sh0a1b2c3d41\n@@end\n',
      stderr: '',
      exitCode: 0,
    }));
    const b = createSlurmBackend({ name: 'x', ssh, maxConcurrent: 1, arrays: true });
    const found = await b.findByTags([
      'sh0a1b2c3d11',
      'sh0a1b2c3d21',
      'sh0a1b2c3d31',
      'sh0a1b2c3d41',
      'not a tag',
    ]);
    // An array (its elements `20_3`, `20_[4-9%2]`) is found by its job id.
    expect(Object.fromEntries(found)).toEqual({ sh0a1b2c3d11: '12', sh0a1b2c3d21: '9', sh0a1b2c3d31: '20' });
    expect(ssh.calls).toHaveLength(1);
    expect(ssh.calls[0]!.command).toBe('bash -s');
    const program = String(ssh.calls[0]!.options?.stdin);
    expect(program).toContain(`squeue -h -t all -u "$u" -o '%F|%j' | grep -F -f <(__scripthut_tags)`);
    expect(program).toContain('sacct -n -P -X -u "$u" --format=JobID,JobName --starttime now-7days');
    expect(program).toContain('\nsh0a1b2c3d11\nsh0a1b2c3d21\nsh0a1b2c3d31\nsh0a1b2c3d41\nSCRIPTHUT_TAGS\n');
    expect(program).not.toContain('not a tag');
  });

  it('externalJobs quotes the user, or asks for the login user', async () => {
    const ssh = new ScriptedSsh(() => ({
      stdout: '2|okjob|hut|RUNNING|normal|0:02|vm|1|100M|2026-02-11T10:00:00|None\n',
      stderr: '',
      exitCode: 0,
    }));
    const b = createSlurmBackend({ name: 'x', ssh, maxConcurrent: 1, arrays: true });
    const jobs = await b.externalJobs!("o'brien");
    expect(jobs[0]).toMatchObject({ jobId: '2', name: 'okjob', state: 'running' });
    expect(ssh.calls[0]!.command).toContain("-u 'o'\\''brien'");
    await b.externalJobs!(null);
    expect(ssh.calls[1]!.command).toContain('-u "$(id -un)"');
  });

  it('SSH failures become transient BackendErrors', async () => {
    const ssh = new ScriptedSsh(() => {
      throw new Error('connection reset');
    });
    const b = createSlurmBackend({ name: 'x', ssh, maxConcurrent: 1, arrays: true });
    const err = await b.status([tracked('1', 'a')]).catch((e) => e);
    expect(BackendError.isTransient(err)).toBe(true);
    expect(String(err.message)).toMatch(/connection reset/);
  });
});
