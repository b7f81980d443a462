import { BackendError } from '@scripthut/core';
import { describe, expect, it } from 'vitest';
import { backendExec } from '../src/backend-connection.js';

describe('backendExec', () => {
  it('passes options through and returns non-zero exits without throwing', async () => {
    const seen: unknown[] = [];
    const run = backendExec(
      {
        exec: async (command, options) => {
          seen.push([command, options]);
          return { stdout: '', stderr: 'no', exitCode: 3 };
        },
      },
      'hpc',
    );
    expect(await run('false', { timeoutMs: 5, logAs: 'x' })).toEqual({
      stdout: '',
      stderr: 'no',
      exitCode: 3,
    });
    expect(seen).toEqual([['false', { timeoutMs: 5, logAs: 'x' }]]);
  });

  it('turns connection failures into transient BackendErrors naming the backend; keeps BackendErrors', async () => {
    const err = await backendExec(
      {
        exec: async () => {
          throw new Error('socket closed');
        },
      },
      'hpc',
    )('bash -s', { logAs: 'sbatch × 3' }).catch((e) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(err.message).toBe('SSH command failed on backend hpc: socket closed');
    expect(err.transient).toBe(true);
    expect(err.command).toBe('sbatch × 3');
    const original = new BackendError('auth failed', { transient: false });
    const same = await backendExec(
      {
        exec: async () => {
          throw original;
        },
      },
      'hpc',
    )('true').catch((e) => e);
    expect(same).toBe(original);
  });
});
