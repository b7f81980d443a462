/**
 * `command()` wraps citty's `defineCommand` with ScriptHut's context (output, connection, signal)
 * and typed arguments. Every leaf command file exports `default command({...})`.
 */
import { type ArgsDef, type CommandDef, type CommandMeta, defineCommand } from 'citty';
import type { CliApi } from './api.js';
import { UsageError } from './errors.js';
import type { Output } from './output.js';
import type { GlobalArgs } from './parse.js';
import type { Access } from './session.js';

/** What a command gets besides its arguments. */
export interface CliContext {
  out: Output;
  globals: GlobalArgs;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Command path, e.g. `['run', 'watch']`. */
  path: string[];
  /** The API (connects on first call: to --server, or an in-process runtime). */
  api(): Promise<CliApi>;
  /** Aborted on Ctrl-C. */
  signal: AbortSignal;
  /** Sleep that rejects with the abort reason on Ctrl-C. */
  sleep(ms: number): Promise<void>;
  /** How the API was reached (after {@link api} was called). */
  connection(): {
    mode: 'in-process' | 'server' | 'read-only';
    url: string | null;
    token: string | null;
  } | null;
}

type Value<D> = D extends { type: 'boolean' }
  ? boolean
  : D extends { type: 'positional' }
    ? D extends { required: false }
      ? string | undefined
      : string
    : D extends { default: string }
      ? string
      : D extends { required: true }
        ? string
        : string | undefined;

/** Typed parsed arguments for an args definition. */
export type Parsed<A extends ArgsDef> = { [K in keyof A]: Value<A[K]> } & { _: string[] };

/** Extra metadata the help renderer and completion use. */
export interface CommandExtra {
  /** Usage examples shown in `--help`. */
  examples?: string[];
  /** String flags that may be given several times (value is then `string[]`). */
  repeatable?: string[];
  /** Accept extra positionals (in `_`), e.g. a command after `--`. */
  allowExtra?: boolean;
  /**
   * What the command needs from ScriptHut (default `engine`): `read` never starts a daemon, `drive`
   * starts one only when no other process drives the runs (see {@link Access}). A function decides
   * from the parsed arguments (`run logs -f` drives, `run logs` reads).
   */
  access?: Access | ((args: Record<string, unknown>) => Access);
  /** Dynamic completion of arguments: positional or flag name → what to complete. */
  complete?: Record<string, CompletionKind>;
  /** What the extra positionals are, for the usage line (default `COMMAND`). */
  extraLabel?: string;
}

/** Values completed from the live configuration and store (see `scripthut __complete`). */
export type CompletionKind = 'workflows' | 'runs' | 'backends' | 'sources';

const extras = new WeakMap<object, CommandExtra>();

/** The {@link CommandExtra} of a command definition. */
export function extraOf(cmd: object): CommandExtra {
  return extras.get(cmd) ?? {};
}

/** The leaf action result: an exit code (default 0). */
export type ActionResult = number | undefined;

/**
 * Define a leaf command.
 *
 * @example
 * ```ts
 * export default command({
 *   meta: { name: 'list', description: 'List runs' },
 *   args: { limit: { type: 'string', description: 'How many' } },
 *   async run(args, ctx) { const api = await ctx.api(); ... },
 * });
 * ```
 */
export function command<const A extends ArgsDef>(
  def: Omit<CommandExtra, 'access'> & {
    access?: Access | ((args: Parsed<A>) => Access);
    meta: CommandMeta;
    args?: A;
    run(args: Parsed<A>, ctx: CliContext): Promise<ActionResult | undefined> | ActionResult | undefined;
  },
): CommandDef<A> {
  const cmd = defineCommand<A>({
    meta: def.meta,
    ...(def.args ? { args: def.args } : {}),
    run: (c) => def.run(c.args as unknown as Parsed<A>, c.data as CliContext),
  });
  extras.set(cmd, {
    ...(def.examples ? { examples: def.examples } : {}),
    ...(def.repeatable ? { repeatable: def.repeatable } : {}),
    ...(def.allowExtra ? { allowExtra: true } : {}),
    ...(def.access ? { access: def.access as CommandExtra['access'] } : {}),
    ...(def.complete ? { complete: def.complete } : {}),
    ...(def.extraLabel ? { extraLabel: def.extraLabel } : {}),
  });
  return cmd;
}

/** Define a command group (lazy subcommands). */
export function group(
  meta: CommandMeta,
  subCommands: Record<string, () => Promise<CommandDef<ArgsDef>>>,
  examples?: string[],
): CommandDef<ArgsDef> {
  const cmd = defineCommand({ meta, subCommands });
  if (examples) extras.set(cmd, { examples });
  return cmd;
}

/** `import('./x.js')` → its default export, for lazy subcommands. */
export function lazy(load: () => Promise<{ default: object }>): () => Promise<CommandDef<ArgsDef>> {
  return async () => (await load()).default as CommandDef<ArgsDef>;
}

/** Parse a numeric flag; throws a usage error naming the flag. */
export function numberFlag(
  name: string,
  value: string | undefined,
  opts: { min?: number; integer?: boolean } = {},
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  const min = opts.min ?? 0;
  if (value.trim() === '' || !Number.isFinite(n) || n < min || (opts.integer && !Number.isInteger(n))) {
    throw new UsageError(
      `--${name} must be ${opts.integer ? 'an integer' : 'a number'} ≥ ${min}; got "${value}"`,
    );
  }
  return n;
}
