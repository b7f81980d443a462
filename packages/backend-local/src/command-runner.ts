/** A {@link CommandRunner} that runs `bash -c` on this host. */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackendError, type CommandRunner, type ExecResult, shellQuotePath } from '@scripthut/core';
import { type InheritOptions, inheritedEnvironment } from './environment.js';

/** Default timeout of {@link LocalCommandRunner.exec}. */
export const DEFAULT_EXEC_TIMEOUT_MS = 60_000;
/** Exit code reported when a command is killed for running past its timeout (as `timeout(1)` does). */
export const TIMEOUT_EXIT_CODE = 124;
const MAX_OUTPUT_BYTES = 32 * 1024 * 1024;

/**
 * Runs commands locally with bash. The command runs in its own process group, so a timeout kills
 * everything it started. `cwd` may start with `~` and is quoted here. Commands get the ScriptHut
 * process's environment without its secrets (see {@link inheritedEnvironment}) plus `env`.
 */
export class LocalCommandRunner implements CommandRunner {
  readonly remote = false;

  constructor(private readonly defaults: { loginShell?: boolean; inherit?: InheritOptions } = {}) {}

  exec(
    command: string,
    options: { cwd?: string; stdin?: string; timeoutMs?: number; env?: Record<string, string> } = {},
  ): Promise<ExecResult> {
    const full = options.cwd ? `cd ${shellQuotePath(options.cwd)} || exit 1\n${command}` : command;
    const timeoutMs = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    return new Promise<ExecResult>((resolvePromise, reject) => {
      const args = this.defaults.loginShell ? ['-l', '-c', full] : ['-c', full];
      const child = spawn('bash', args, {
        env: { ...inheritedEnvironment(process.env, this.defaults.inherit), ...(options.env ?? {}) },
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let outBytes = 0;
      let errBytes = 0;
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, timeoutMs);
      child.stdout.on('data', (d: Buffer) => {
        if (outBytes < MAX_OUTPUT_BYTES) out.push(d);
        outBytes += d.length;
      });
      child.stderr.on('data', (d: Buffer) => {
        if (errBytes < MAX_OUTPUT_BYTES) err.push(d);
        errBytes += d.length;
      });
      child.on('error', (error) => {
        clearTimeout(timer);
        reject(
          new BackendError(`cannot run bash locally: ${error.message}`, { transient: false, cause: error }),
        );
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        let stderr = Buffer.concat(err).toString('utf8');
        if (timedOut)
          stderr += `${stderr && !stderr.endsWith('\n') ? '\n' : ''}ScriptHut: command timed out after ${Math.round(timeoutMs / 1000)}s and was killed\n`;
        resolvePromise({
          stdout: Buffer.concat(out).toString('utf8'),
          stderr,
          exitCode: timedOut ? TIMEOUT_EXIT_CODE : (code ?? (signal ? 128 + signalNumber(signal) : 1)),
        });
      });
      child.stdin.on('error', () => {
        // the command did not read its input; not an error of the runner
      });
      child.stdin.end(options.stdin ?? '');
    });
  }

  async withTempFile<T>(content: Buffer | string, fn: (path: string) => Promise<T>): Promise<T> {
    const dir = mkdtempSync(join(tmpdir(), 'scripthut-'));
    const path = join(dir, 'file');
    try {
      writeFileSync(path, content, { mode: 0o600 });
      chmodSync(path, 0o600);
      return await fn(path);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  return osConstants.signals[signal] ?? 0;
}
