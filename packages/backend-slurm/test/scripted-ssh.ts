import type { BackendHealth, CommandLogEntry, ExecResult } from '@scripthut/core';
import type { SlurmExecOptions, SlurmSsh } from '../src/index.js';

/** A scripted fake for the commands the local bash runner cannot fake well. */
export class ScriptedSsh implements SlurmSsh {
  readonly remote = true;
  calls: { command: string; options: SlurmExecOptions }[] = [];
  constructor(private readonly answer: (command: string, stdin: string) => ExecResult) {}
  async exec(command: string, options: SlurmExecOptions = {}): Promise<ExecResult> {
    this.calls.push({ command, options });
    return this.answer(command, options.stdin ?? '');
  }
  health(): BackendHealth {
    return { connected: true, lastError: null, endpoint: 'fake' };
  }
  commandLog(): CommandLogEntry[] {
    return [];
  }
  async close(): Promise<void> {}
}
