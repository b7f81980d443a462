/** Test helper: a {@link RemoteExec} that runs commands with the local bash, HOME in a temp dir. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecResult } from '@scripthut/core';
import type { RemoteExec, RemoteExecOptions } from '../src/remote-files.js';

export interface LocalBash {
  home: string;
  run: RemoteExec;
  calls: { command: string; options: RemoteExecOptions }[];
  dispose(): void;
}

export function localBash(): LocalBash {
  const home = mkdtempSync(join(tmpdir(), 'scripthut-ssh-home-'));
  const calls: LocalBash['calls'] = [];
  const run: RemoteExec = (command, options = {}) => {
    calls.push({ command, options });
    return new Promise<ExecResult>((resolve, reject) => {
      const child = spawn('bash', ['-c', command], {
        cwd: home,
        env: { PATH: process.env.PATH, HOME: home },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ stdout, stderr, exitCode: code ?? -1 }));
      child.stdin.on('error', () => {}); // EPIPE when the command exits before reading stdin
      child.stdin.end(options.stdin ?? '');
    });
  };
  return { home, run, calls, dispose: () => rmSync(home, { recursive: true, force: true }) };
}
