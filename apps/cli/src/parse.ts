/**
 * Command-line parsing on top of citty's command definitions: resolves the subcommand path (global
 * flags may appear anywhere), rejects unknown commands and flags (exit 2), and builds the parsed
 * arguments object. Strict where citty is lenient, so typos never silently do something else.
 */
import type { ArgDef, ArgsDef, CommandDef, CommandMeta, SubCommandsDef } from 'citty';
import { UsageError } from './errors.js';

/** Flags accepted by every command. */
export const GLOBAL_ARGS = {
  config: {
    type: 'string',
    alias: 'c',
    description: 'Path to scripthut.yaml (default: ./scripthut.yaml, else the built-in demo config)',
    valueHint: 'file',
  },
  json: { type: 'boolean', description: 'Print exactly one JSON document on stdout' },
  server: {
    type: 'string',
    description: 'ScriptHut server URL (default: $SCRIPTHUT_SERVER, else the local daemon)',
    valueHint: 'url',
  },
  'token-file': {
    type: 'string',
    description:
      "File holding the API token (default: $SCRIPTHUT_TOKEN, else settings.auth_token or the data dir's auth_token)",
    valueHint: 'file',
  },
  daemon: {
    type: 'boolean',
    default: true,
    description:
      'Talk to the background daemon, starting it when needed (--no-daemon, or SCRIPTHUT_NO_DAEMON=1: run the engine in this process)',
  },
  color: {
    type: 'boolean',
    default: true,
    description: 'Colour output on a terminal (--no-color to disable; NO_COLOR is honoured)',
  },
  help: { type: 'boolean', alias: 'h', description: 'Show help' },
} as const satisfies ArgsDef;

export interface GlobalArgs {
  config: string | undefined;
  json: boolean;
  server: string | undefined;
  tokenFile: string | undefined;
  /** False with `--no-daemon`. */
  daemon: boolean;
  color: boolean;
  help: boolean;
}

/** Resolve a citty `Resolvable`. */
export async function resolveValue<T>(
  value: T | Promise<T> | (() => T) | (() => Promise<T>) | undefined,
): Promise<T | undefined> {
  return typeof value === 'function' ? await (value as () => T | Promise<T>)() : await value;
}

export interface ResolvedCommand {
  /** Command names from the root, e.g. `['run', 'list']`. */
  path: string[];
  cmd: CommandDef<ArgsDef>;
  meta: CommandMeta;
  args: ArgsDef;
  subCommands: SubCommandsDef | undefined;
  /** The tokens that are not command names. */
  rest: string[];
}

function flagName(token: string): { name: string; value: string | undefined; dashes: number } {
  const dashes = token.startsWith('--') ? 2 : 1;
  const body = token.slice(dashes);
  const eq = body.indexOf('=');
  return eq === -1
    ? { name: body, value: undefined, dashes }
    : { name: body.slice(0, eq), value: body.slice(eq + 1), dashes };
}

function isFlag(token: string): boolean {
  return token.startsWith('-') && token !== '-' && !/^-\d/.test(token);
}

/** Lookup table name/alias → [canonical name, def]. */
function flagTable(args: ArgsDef): Map<string, [string, ArgDef]> {
  const table = new Map<string, [string, ArgDef]>();
  for (const [name, def] of Object.entries(args)) {
    if (def.type === 'positional') continue;
    table.set(name, [name, def]);
    const aliases = 'alias' in def && def.alias ? (Array.isArray(def.alias) ? def.alias : [def.alias]) : [];
    for (const a of aliases) table.set(a, [name, def]);
  }
  return table;
}

function commandLabel(path: string[]): string {
  return ['scripthut', ...path].join(' ');
}

/**
 * Walk the command tree along `argv`. Unknown command names raise a {@link UsageError} listing the
 * valid ones.
 */
export async function resolveCommand(root: CommandDef<ArgsDef>, argv: string[]): Promise<ResolvedCommand> {
  let cmd = root;
  const path: string[] = [];
  const rest: string[] = [];
  const globals = flagTable(GLOBAL_ARGS);
  let subCommands = await resolveValue(cmd.subCommands);
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string;
    if (token === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (isFlag(token)) {
      rest.push(token);
      const { name, value } = flagName(token);
      const global = globals.get(name);
      // a global string flag before the command name consumes its value
      if (
        subCommands &&
        global &&
        global[1].type === 'string' &&
        value === undefined &&
        i + 1 < argv.length
      ) {
        rest.push(argv[++i] as string);
      }
      continue;
    }
    if (subCommands && Object.keys(subCommands).length > 0) {
      const next = subCommands[token];
      if (!next) {
        const known = Object.keys(subCommands).filter((k) => !k.startsWith('__'));
        throw new UsageError(
          `unknown command "${token}" for \`${commandLabel(path)}\`; commands: ${known.join(', ')}`,
          `run \`${commandLabel(path)} --help\``,
        );
      }
      const resolved = await resolveValue(next);
      if (!resolved) throw new Error(`internal: command ${token} failed to load`);
      cmd = resolved as CommandDef<ArgsDef>;
      path.push(token);
      subCommands = await resolveValue(cmd.subCommands);
      continue;
    }
    rest.push(token);
  }
  return {
    path,
    cmd,
    meta: (await resolveValue(cmd.meta)) ?? {},
    args: ((await resolveValue(cmd.args)) ?? {}) as ArgsDef,
    subCommands: subCommands && Object.keys(subCommands).length > 0 ? subCommands : undefined,
    rest,
  };
}

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * Parse the tokens left after command resolution against the command's args plus {@link GLOBAL_ARGS}.
 * Returns an object with every flag under both its kebab and camel name, positionals by name, and
 * extra positionals (and everything after `--`) in `_`.
 */
export function parseCommandArgs(
  path: string[],
  argsDef: ArgsDef,
  tokens: string[],
  options: { allowExtra?: boolean; repeatable?: readonly string[] } = {},
): Record<string, unknown> & { _: string[] } {
  const all: ArgsDef = { ...GLOBAL_ARGS, ...argsDef };
  const table = flagTable(all);
  const out: Record<string, unknown> & { _: string[] } = { _: [] };
  const positionals: string[] = [];
  const label = commandLabel(path);
  const help = `run \`${label} --help\``;
  const set = (name: string, def: ArgDef, value: string | boolean) => {
    const key = camel(name);
    const repeatable = def.type === 'string' && (options.repeatable ?? []).includes(name);
    const prev = out[name];
    const next = repeatable ? ([] as unknown[]).concat(prev ?? [], value) : value;
    out[name] = next;
    out[key] = next;
  };
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string;
    if (token === '--') {
      out._.push(...tokens.slice(i + 1));
      break;
    }
    if (!isFlag(token)) {
      positionals.push(token);
      continue;
    }
    const { name, value, dashes } = flagName(token);
    if (dashes === 1 && name.length > 1) {
      throw new UsageError(`unknown flag "${token}" for \`${label}\` (long flags take two dashes)`, help);
    }
    let entry = table.get(name);
    let negated = false;
    if (!entry && name.startsWith('no-')) {
      const base = table.get(name.slice(3));
      if (base && base[1].type === 'boolean') {
        entry = base;
        negated = true;
      }
    }
    if (!entry) {
      const known = [...table.keys()].filter((k) => k.length > 1);
      const guess = closestName(name, known);
      throw new UsageError(
        `unknown flag "${token}" for \`${label}\`${guess ? `; did you mean --${guess}?` : ''}`,
        help,
      );
    }
    const [canonical, def] = entry;
    if (def.type === 'boolean') {
      if (negated) {
        if (value !== undefined) throw new UsageError(`flag "--${name}" takes no value`, help);
        set(canonical, def, false);
      } else if (value === undefined) set(canonical, def, true);
      else if (value === 'true' || value === 'false') set(canonical, def, value === 'true');
      else throw new UsageError(`flag "--${canonical}" is a switch; got value "${value}"`, help);
      continue;
    }
    let v = value;
    if (v === undefined) {
      const next = tokens[i + 1];
      if (next === undefined || (isFlag(next) && next !== '-') || next === '--') {
        throw new UsageError(
          `flag "--${canonical}" needs a value${def.valueHint ? ` <${def.valueHint}>` : ''}`,
          help,
        );
      }
      v = next;
      i++;
    }
    set(canonical, def, v);
  }
  // defaults
  for (const [name, def] of Object.entries(all)) {
    if (def.type !== 'positional' && out[name] === undefined) {
      const d = def.default ?? (def.type === 'boolean' ? false : undefined);
      if (d !== undefined) {
        out[name] = d;
        out[camel(name)] = d;
      }
    }
  }
  for (const [name, def] of Object.entries(argsDef)) {
    if (def.type !== 'positional' && def.required && out[name] === undefined) {
      throw new UsageError(
        `missing flag --${name}${def.valueHint ? ` <${def.valueHint}>` : ''} for \`${label}\``,
        help,
      );
    }
  }
  // positionals
  const positionalDefs = Object.entries(argsDef).filter(([, d]) => d.type === 'positional');
  for (const [name, def] of positionalDefs) {
    const v = positionals.shift();
    if (v !== undefined) {
      out[name] = v;
      out[camel(name)] = v;
    } else if (def.default !== undefined) {
      out[name] = def.default;
    } else if (def.required !== false) {
      throw new UsageError(`missing argument ${name.toUpperCase()} for \`${label}\``, help);
    }
  }
  if (positionals.length > 0) {
    if (!options.allowExtra) {
      throw new UsageError(`unexpected argument "${positionals[0]}" for \`${label}\``, help);
    }
    out._.unshift(...positionals);
  }
  return out;
}

/** Closest known name by edit distance (≤ 2), for "did you mean". */
export function closestName(name: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] as number;
      row[j] = Math.min(
        (row[j] as number) + 1,
        (row[j - 1] as number) + 1,
        prev + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      prev = tmp;
    }
  }
  return row[b.length] as number;
}

/** Extract the global flags from a parsed args object. */
export function globalsOf(args: Record<string, unknown>): GlobalArgs {
  const str = (v: unknown) =>
    Array.isArray(v) ? (v.at(-1) as string | undefined) : (v as string | undefined);
  return {
    config: str(args.config),
    json: args.json === true,
    server: str(args.server),
    tokenFile: str(args['token-file']),
    daemon: args.daemon !== false,
    color: args.color !== false,
    help: args.help === true,
  };
}
