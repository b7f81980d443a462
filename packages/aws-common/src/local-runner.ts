/** A {@link CommandRunner} on the control plane itself (the AWS backends have no login node). */
import { spawn } from 'node:child_process';
import type { CommandRunner, ExecResult } from '@scripthut/core';

/**
 * Runs workflow commands locally with `bash -c`. A command that outlives its timeout
 * (default `defaultTimeoutMs`) is killed and answers exit code 124 with a note on stderr.
 */
export function localCommandRunner(defaultTimeoutMs = 60_000): CommandRunner {
  return {
    remote: false,
    exec(command, options = {}) {
      return new Promise<ExecResult>((resolve, reject) => {
        const child = spawn('bash', ['-c', command], {
          cwd: options.cwd,
          env: { ...process.env, ...(options.env ?? {}) },
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, options.timeoutMs ?? defaultTimeoutMs);
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          stdout += d;
        });
        child.stderr.setEncoding('utf8').on('data', (d: string) => {
          stderr += d;
        });
        child.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          if (timedOut) stderr += `\ncommand timed out after ${options.timeoutMs ?? defaultTimeoutMs} ms`;
          resolve({ stdout, stderr, exitCode: timedOut ? 124 : (code ?? (signal ? 124 : 1)) });
        });
        child.stdin.on('error', () => undefined);
        child.stdin.end(options.stdin ?? '');
      });
    },
  };
}
