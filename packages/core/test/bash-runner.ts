import { spawnSync } from 'node:child_process';
import type { CommandRunner } from '../src/backend.js';

/** A real bash on this machine, counting its invocations. */
export function bashRunner(): CommandRunner & { calls: number } {
  return {
    remote: false,
    calls: 0,
    async exec(command, options) {
      this.calls++;
      const r = spawnSync('bash', ['-c', command], { input: options?.stdin ?? '', encoding: 'utf8' });
      return { stdout: r.stdout, stderr: r.stderr, exitCode: r.status ?? 1 };
    },
  };
}
