/**
 * What a started command's end means for its caller: an {@link ExecResult} with the login-shell
 * noise stripped (see `framing.ts`), or a transient BackendError (timed out, failed, or lost with
 * the connection) that says the command had started and carries what it had printed.
 */
import { BackendError, type ExecResult } from '@scripthut/core';
import type { RunningExec } from './exec-channel.js';
import { OutputFramer } from './framing.js';

const LOG_OUTPUT_LIMIT = 2048;

/** `text` cut to 2 KB for the command log and error output, saying how much was left out. */
export function truncateForLog(text: string): string {
  if (text.length <= LOG_OUTPUT_LIMIT) return text;
  return `${text.slice(0, LOG_OUTPUT_LIMIT)}… [${text.length - LOG_OUTPUT_LIMIT} more chars]`;
}

/** How errors name the command and the connection it ran on. */
export interface OutcomeContext {
  /** `user@host:port`. */
  endpoint: string;
  /** The command as shown in logs and errors (possibly redacted). */
  shown: string;
  timeoutMs: number;
  /** The framing marker of the program (see `frameProgram`). */
  marker: string;
}

/**
 * Waits for the command to end; on timeout kills it and throws a transient error. Output before
 * the begin marker (login-shell noise) is dropped. Errors raised once the command was started
 * carry `details.started: true`: the command may have done (part of) its work.
 */
export async function awaitExecOutcome(running: RunningExec, ctx: OutcomeContext): Promise<ExecResult> {
  const { endpoint, shown, timeoutMs, marker } = ctx;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const outcome = await Promise.race([running.outcome, timedOut]);
  clearTimeout(timer);
  // What the command printed before it was lost: a batch program's answer lines so far.
  const started = (stdout: string) => ({ started: true, stdout: OutputFramer.strip(stdout, marker).text });
  if (outcome === 'timeout') {
    running.kill();
    throw new BackendError(`command timed out after ${timeoutMs} ms on ${endpoint}: ${shown}`, {
      transient: true,
      command: shown,
      output: truncateForLog(OutputFramer.strip(running.stderrSoFar(), marker).text),
      details: started(running.stdoutSoFar()),
    });
  }
  switch (outcome.kind) {
    case 'exited':
      return {
        stdout: OutputFramer.strip(outcome.stdout, marker).text,
        stderr: OutputFramer.strip(outcome.stderr, marker).text,
        exitCode: outcome.exitCode,
      };
    case 'error':
      throw new BackendError(`command failed on ${endpoint}: ${outcome.error.message}`, {
        transient: true,
        command: shown,
        cause: outcome.error,
        details: started(running.stdoutSoFar()),
      });
    case 'vanished':
      throw new BackendError(`connection to ${endpoint} lost while running: ${shown}`, {
        transient: true,
        command: shown,
        output: truncateForLog(OutputFramer.strip(outcome.stderr, marker).text),
        details: started(outcome.stdout),
      });
  }
}
