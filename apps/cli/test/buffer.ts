import type { CliApi } from '../src/api.js';
import { runCli } from '../src/cli.js';
import type { Session } from '../src/session.js';

/** A Sink collecting text. */
export function buffer(isTTY = false) {
  const chunks: string[] = [];
  return {
    isTTY,
    write(s: string) {
      chunks.push(s);
      return true;
    },
    get text() {
      return chunks.join('');
    },
  };
}

/** Run the CLI in-process with a fake API. */
export async function runWith(
  api: CliApi,
  argv: string[],
  opts: { env?: NodeJS.ProcessEnv; signal?: AbortSignal; stderrTTY?: boolean } = {},
) {
  const stdout = buffer();
  const stderr = buffer(opts.stderrTTY ?? false);
  const session: Session = { api, mode: 'in-process', url: null, token: null, close: async () => {} };
  const code = await runCli(argv, {
    stdout,
    stderr,
    env: opts.env ?? {},
    cwd: process.cwd(),
    ...(opts.signal ? { signal: opts.signal } : {}),
    openSession: async () => session,
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}
