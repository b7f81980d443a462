/**
 * The CLI runner: parse, dispatch, report errors, return the exit code. `main.ts` wires it to the
 * process; tests call {@link runCli} with buffers.
 */
import type { ArgsDef, CommandDef } from 'citty';
import type { CliApi } from './api.js';
import { type CliContext, extraOf } from './command.js';
import { rootCommand } from './commands/index.js';
import {
  CliError,
  ExitCode,
  errorCode,
  errorIssues,
  exitCodeFor,
  InterruptedError,
  UsageError,
} from './errors.js';
import { renderHelp } from './help.js';
import { Output, type Sink, shouldColor } from './output.js';
import { type GlobalArgs, globalsOf, parseCommandArgs, resolveCommand } from './parse.js';
import { type Access, openSession, type Session } from './session.js';
import { VERSION } from './version.js';

export interface CliIO {
  stdout: Sink;
  stderr: Sink;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Aborted on Ctrl-C (main.ts hooks SIGINT). */
  signal?: AbortSignal;
  /** Replace the connection (unit tests). */
  openSession?: (globals: GlobalArgs, out: Output, access: Access) => Promise<Session>;
}

function abortableSleep(signal: AbortSignal): (ms: number) => Promise<void> {
  return (ms) =>
    new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(new InterruptedError());
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(new InterruptedError());
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
}

function describeError(e: unknown): { message: string; hint: string | undefined } {
  if (e instanceof CliError) return { message: e.message, hint: e.hint };
  const message = e instanceof Error ? e.message : String(e);
  const code = errorCode(e);
  let hint: string | undefined;
  if (code === 'config_invalid' || code === 'config_not_found')
    hint = 'check the file with `scripthut config check [FILE]`';
  else if (code === 'unauthorized') hint = 'give the server token with --token-file FILE or SCRIPTHUT_TOKEN';
  else if (code === 'backend_unavailable' || code === 'backend_transient')
    hint = 'see `scripthut backend status` for connection details';
  return { message, hint };
}

/** Run the CLI with `argv` (without node and script). Resolves to the exit code; never throws. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  // Output settings are needed before parsing succeeds (to print parse errors correctly).
  const jsonEarly = argv.includes('--json');
  const colorFlagEarly = !argv.includes('--no-color');
  let out = new Output({
    stdout: io.stdout,
    stderr: io.stderr,
    json: jsonEarly,
    color: shouldColor({ flag: colorFlagEarly, env: io.env, isTTY: io.stdout.isTTY }),
  });
  const signal = io.signal ?? new AbortController().signal;
  let session: Session | null = null;
  try {
    if (argv[0] === '--version' || argv[0] === '-V') {
      out.result({ version: VERSION }, () => VERSION);
      return ExitCode.ok;
    }
    const resolved = await resolveCommand(rootCommand as CommandDef<ArgsDef>, argv);
    const wantsHelp = resolved.rest.includes('--help') || resolved.rest.includes('-h');
    if (resolved.subCommands && !resolved.cmd.run) {
      if (wantsHelp || resolved.path.length === 0) {
        if (!wantsHelp) parseCommandArgs(resolved.path, {}, resolved.rest); // reject unknown flags
        out.raw(await renderHelp(resolved.path, resolved.cmd, out.style));
        return ExitCode.ok;
      }
      const names = Object.keys(resolved.subCommands)
        .filter((k) => !k.startsWith('__'))
        .join(', ');
      throw new UsageError(
        `missing command for \`${['scripthut', ...resolved.path].join(' ')}\`; commands: ${names}`,
        `run \`${['scripthut', ...resolved.path].join(' ')} --help\``,
      );
    }
    if (wantsHelp) {
      out.raw(await renderHelp(resolved.path, resolved.cmd, out.style));
      return ExitCode.ok;
    }
    const extra = extraOf(resolved.cmd);
    const args = parseCommandArgs(resolved.path, resolved.args, resolved.rest, {
      ...(extra.allowExtra ? { allowExtra: true } : {}),
      ...(extra.repeatable ? { repeatable: extra.repeatable } : {}),
    });
    const globals = globalsOf(args);
    out = new Output({
      stdout: io.stdout,
      stderr: io.stderr,
      json: globals.json,
      color: shouldColor({ flag: globals.color, env: io.env, isTTY: io.stdout.isTTY }),
    });
    const finalOut = out;
    const access: Access =
      typeof extra.access === 'function' ? extra.access(args) : (extra.access ?? 'engine');
    const sleep = abortableSleep(signal);
    let connecting: Promise<Session> | null = null;
    const ctx: CliContext = {
      out,
      globals,
      env: io.env,
      cwd: io.cwd,
      path: resolved.path,
      signal,
      sleep,
      api: async (): Promise<CliApi> => {
        connecting ??= (
          io.openSession ??
          ((g, o, a) => openSession({ globals: g, env: io.env, cwd: io.cwd, out: o, access: a, sleep }))
        )(globals, finalOut, access);
        session = await connecting;
        return session.api;
      },
      connection: () => (session ? { mode: session.mode, url: session.url, token: session.token } : null),
    };
    if (!resolved.cmd.run) throw new Error('internal: command has no action');
    const result = await resolved.cmd.run({
      rawArgs: resolved.rest,
      args: args as never,
      cmd: resolved.cmd,
      data: ctx,
    });
    return typeof result === 'number' ? result : ExitCode.ok;
  } catch (e) {
    const code = exitCodeFor(e);
    const { message, hint } = describeError(e);
    const issues = errorIssues(e);
    if (out.json && !out.hasResult) {
      out.result(
        {
          error: {
            code:
              errorCode(e) ??
              (e instanceof UsageError ? 'usage' : code === ExitCode.unreachable ? 'unreachable' : 'error'),
            message,
            ...(hint ? { hint } : {}),
            ...(issues.length ? { issues } : {}),
            exitCode: code,
          },
        },
        () => '',
      );
    }
    if (e instanceof InterruptedError) out.info(message);
    else out.error(message, hint);
    if (
      !(e instanceof CliError) &&
      code === ExitCode.failure &&
      io.env.SCRIPTHUT_DEBUG &&
      e instanceof Error &&
      e.stack
    ) {
      out.info(e.stack);
    }
    return code;
  } finally {
    const s = session as Session | null;
    if (s) {
      await s
        .close()
        .catch((e: unknown) => out.warn(`closing: ${e instanceof Error ? e.message : String(e)}`));
    }
  }
}
