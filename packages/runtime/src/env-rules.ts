/**
 * The env-rule resolver: the original ScriptHut's `env:` / `env_groups:` semantics.
 *
 * Rules come in layers, evaluated in order against a seed of `SCRIPTHUT_*` values: backend →
 * server (scripthut.yaml) → document (the task file's top-level `env`) → task. Groups of every layer
 * are merged first (a later layer's group shadows an earlier one of the same name) and `include`
 * inlines a group's rules at that position; they inherit the including rule's `if`. A rule applies
 * when every `if` key equals the value resolved so far (a list: any of its values); then `set`
 * overwrites, `append` joins with `:`, and `init` text is collected (it runs before the exports).
 *
 * `${NAME}` in `set`, `append` and `init` is replaced by the value resolved so far. Where the
 * original replaced an unknown name by an empty string, here it stays a reference to the job's own
 * environment, expanded by the job's shell (`/scratch/${USER}` works), and `append` to a variable
 * no rule has set extends the job's own value (`append: {PATH: /opt/x/bin}` keeps the job's PATH).
 */
import type { EnvGroups, EnvRule } from '@scripthut/config';
import { closest } from '@scripthut/config';
import { ScriptHutError, type ShellValuePart } from '@scripthut/core';

/** A resolved value: literal text and references to the job's environment. */
export type EnvValue = ShellValuePart[];

/** One layer of rules, with a label for provenance (`backend hpc`, `server`, `document`, `task`). */
export interface EnvRuleLayer {
  label: string;
  rules: readonly EnvRule[];
  groups?: EnvGroups;
}

/** A variable written by rules. */
export interface ResolvedVariable {
  value: EnvValue;
  /** Label of the layer (and group) of the last write, e.g. `backend hpc via group cuda`. */
  origin: string;
}

/** What the rules of a task resolve to. */
export interface ResolvedEnv {
  /** Variables written by rules, in order of first write. */
  variables: Map<string, ResolvedVariable>;
  /** `init` texts of the applied rules, in order, `${NAME}` expanded. */
  init: string[];
  /** Rules that applied (0: the rules changed nothing). */
  applied: number;
  /** Unknown groups (with a suggestion), protected names. */
  warnings: string[];
}

const VAR_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

interface FlatRule {
  rule: EnvRule;
  origin: string;
  guards: NonNullable<EnvRule['if']>[];
}

/** Text form of a value: literal text, `${NAME}` for references (`${NAME:+${NAME}:}` with a suffix). */
export function envValueText(value: EnvValue): string {
  return value
    .map((p) =>
      typeof p === 'string'
        ? p
        : p.ifSetSuffix
          ? `\${${p.ref}:+\${${p.ref}}${p.ifSetSuffix}}`
          : `\${${p.ref}}`,
    )
    .join('');
}

/** True when the value has no reference to the job's environment. */
export function isLiteral(value: EnvValue): boolean {
  return value.every((p) => typeof p === 'string');
}

function literal(text: string): EnvValue {
  return text === '' ? [] : [text];
}

/** Join adjacent literal parts. */
function compact(value: EnvValue): EnvValue {
  const out: EnvValue = [];
  for (const p of value) {
    const last = out[out.length - 1];
    if (typeof p === 'string' && typeof last === 'string') out[out.length - 1] = last + p;
    else if (p !== '') out.push(p);
  }
  return out;
}

/**
 * Resolves `layers` against `seed` (the `SCRIPTHUT_*` values known when the run is created).
 *
 * @throws ScriptHutError `validation_failed` when groups include each other in a cycle.
 * @example
 * ```ts
 * const r = resolveEnvRules(
 *   [{ label: 'backend hpc', rules: [{ if: { SCRIPTHUT_BACKEND: 'hpc' }, init: 'module load python' }] },
 *    { label: 'task', rules: [{ set: { OUT: '/scratch/${USER}/out' } }] }],
 *   { SCRIPTHUT_BACKEND: 'hpc' },
 * );
 * r.init;                                   // ['module load python']
 * envValueText(r.variables.get('OUT')!.value); // '/scratch/${USER}/out' (USER: the job's)
 * ```
 */
export function resolveEnvRules(
  layers: readonly EnvRuleLayer[],
  seed: Readonly<Record<string, string>>,
): ResolvedEnv {
  const groups: EnvGroups = {};
  for (const layer of layers) Object.assign(groups, layer.groups ?? {});
  const warnings: string[] = [];
  const flat: FlatRule[] = [];
  const flatten = (rule: EnvRule, origin: string, guards: FlatRule['guards'], chain: string[]) => {
    const own = rule.if ? [...guards, rule.if] : guards;
    for (const name of rule.include ?? []) {
      if (chain.includes(name))
        throw new ScriptHutError(
          'validation_failed',
          `env_groups include each other in a cycle: ${[...chain, name].join(' -> ')} (included from ${origin.split(' via ')[0]})`,
        );
      const members = Object.hasOwn(groups, name) ? groups[name] : undefined;
      if (!members) {
        const hint = closest(name, Object.keys(groups));
        warnings.push(
          `${origin}: unknown env group "${name}" (ignored)${hint ? `; did you mean "${hint}"?` : Object.keys(groups).length ? ` (defined: ${Object.keys(groups).join(', ')})` : ''}`,
        );
        continue;
      }
      for (const member of members) flatten(member, `${origin} via group ${name}`, own, [...chain, name]);
    }
    if (rule.set || rule.append || rule.init !== undefined) flat.push({ rule, origin, guards: own });
  };
  for (const layer of layers) for (const rule of layer.rules) flatten(rule, layer.label, [], []);

  const env = new Map<string, EnvValue>();
  for (const [k, v] of Object.entries(seed)) env.set(k, literal(v));
  const variables = new Map<string, ResolvedVariable>();
  const init: string[] = [];
  let applied = 0;
  const matches = (guard: NonNullable<EnvRule['if']>) =>
    Object.entries(guard).every(([k, want]) => {
      const have = env.get(k);
      if (have === undefined) return false;
      const text = envValueText(have);
      return Array.isArray(want) ? want.includes(text) : want === text;
    });
  const expand = (text: string): EnvValue => {
    const out: EnvValue = [];
    let at = 0;
    for (const m of text.matchAll(VAR_REF)) {
      out.push(text.slice(at, m.index));
      const known = env.get(m[1]!);
      if (known) out.push(...known);
      else out.push({ ref: m[1]! });
      at = m.index! + m[0].length;
    }
    out.push(text.slice(at));
    return compact(out);
  };
  const write = (name: string, value: EnvValue, origin: string) => {
    env.set(name, value);
    variables.set(name, { value, origin });
  };

  for (const { rule, origin, guards } of flat) {
    if (!guards.every(matches)) continue;
    applied++;
    for (const [k, v] of Object.entries(rule.set ?? {})) {
      if (k.startsWith('SCRIPTHUT_')) {
        warnings.push(`${origin}: ${k} is set by ScriptHut (ignored)`);
        continue;
      }
      write(k, expand(v), origin);
    }
    for (const [k, v] of Object.entries(rule.append ?? {})) {
      if (k.startsWith('SCRIPTHUT_')) {
        warnings.push(`${origin}: ${k} is set by ScriptHut (ignored)`);
        continue;
      }
      const contribution = expand(v);
      const existing = env.get(k);
      const value =
        existing === undefined
          ? compact([{ ref: k, ifSetSuffix: ':' }, ...contribution])
          : existing.length === 0
            ? contribution
            : compact([...existing, ':', ...contribution]);
      write(k, value, origin);
    }
    if (rule.init !== undefined && rule.init.trim() !== '') init.push(envValueText(expand(rule.init)));
  }
  return { variables, init, applied, warnings };
}
