#!/usr/bin/env node
/**
 * `scripthut` entry point: wires {@link runCli} to the process (argv, stdio, env, signals, exit code).
 */
import { runCli } from './cli.js';
import { ExitCode } from './errors.js';

const controller = new AbortController();
let interrupts = 0;
const onSignal = (signal: NodeJS.Signals) => {
  interrupts++;
  if (interrupts > 1) {
    process.stderr.write('\ninterrupted again; exiting now\n');
    process.exit(ExitCode.interrupted);
  }
  interruptedBy = signal;
  controller.abort(new Error(signal));
};
let interruptedBy: NodeJS.Signals | null = null;
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
// A closed pipe (`scripthut run list | head`) is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
});

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  // Run through `pnpm scripthut …`, the process starts in the repository root; INIT_CWD is where
  // the user typed the command, which is where scripthut.yaml is looked up.
  cwd:
    process.env.npm_lifecycle_event === 'scripthut' && process.env.INIT_CWD
      ? process.env.INIT_CWD
      : process.cwd(),
  signal: controller.signal,
});
// `serve` ends cleanly on a signal; everything else interrupted exits 130.
const finalCode =
  interruptedBy === 'SIGINT' && code === ExitCode.ok && process.argv.slice(2).includes('serve') ? 0 : code;
process.exitCode = finalCode;
// Flush stdout before leaving; lingering handles (sockets of a closed runtime) must not keep us alive.
process.stdout.write('', () => process.exit(finalCode));
