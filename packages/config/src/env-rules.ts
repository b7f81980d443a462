/**
 * Env rules (`env:` lists and `env_groups:`) and `partition_map`: the zod schemas shared by
 * scripthut.yaml (server and backend level) and by task documents (document and task level, checked
 * by the runtime), and the cross-field checks the schemas cannot express.
 *
 * A rule (all fields optional, at least one of `set`, `append`, `init`, `include`):
 *
 * ```yaml
 * - if: { SCRIPTHUT_BACKEND: [hpc, hpc2], GPU: "1" }   # AND across keys, OR within a list
 *   include: [cuda]                                 # env_groups inlined here, guarded by `if`
 *   set: { SCRATCH: /scratch/${USER} }              # overwrite
 *   append: { PATH: /opt/cuda/bin }                 # join with ":"
 *   init: module load cuda/12                       # bash, runs before the exports
 * ```
 */
import { z } from 'zod';
import { show } from './suggest.js';

// `partition_map` is declared by the backend plugins that have partitions; its schema lives with
// the other shared backend fields.
export { PARTITION_NAME_RE, PartitionMapSchema } from '@scripthut/core/config-fields';

/** Valid environment variable name. */
export const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const scalar = z
  .union([z.string(), z.number(), z.boolean()], {
    error: (iss) => `expected a string (numbers and booleans are converted), got ${show(iss.input)}`,
  })
  .transform((v) => String(v));

const envName = () =>
  z.string().regex(ENV_NAME_RE, {
    error: 'is not a valid environment variable name (letters, digits and "_", not starting with a digit)',
  });

/** Variables a rule writes: never `SCRIPTHUT_*` (set by ScriptHut) or `__SCRIPTHUT_*` (the job script's own). */
const writtenVars = () =>
  z.record(
    envName()
      .refine((k) => !k.startsWith('SCRIPTHUT_'), {
        error: 'is set by ScriptHut: env rules cannot change SCRIPTHUT_* variables',
      })
      .refine((k) => !k.startsWith('__SCRIPTHUT_'), {
        error: "is reserved for ScriptHut's job script (__SCRIPTHUT_*)",
      }),
    scalar,
  );

const EXPANDED = '$' + '{NAME} is replaced by the value resolved so far (left to the job when unset).';

/** One env rule. */
export const EnvRuleSchema = z
  .strictObject({
    if: z
      .record(envName(), z.union([scalar, z.array(scalar).min(1)]))
      .optional()
      .describe(
        'Guard: every key must equal the value resolved so far (a list: any of its values). Keys may be SCRIPTHUT_BACKEND, SCRIPTHUT_WORKFLOW, SCRIPTHUT_GIT_* or variables set by earlier rules.',
      ),
    include: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe("Names of env_groups inlined at this position (their rules inherit this rule's `if`)."),
    set: writtenVars().optional().describe(`Variables to set (overwrite). ${EXPANDED}`),
    append: writtenVars()
      .optional()
      .describe(`Variables to extend with ":" (the job's own value when not set by a rule). ${EXPANDED}`),
    init: z
      .string()
      .optional()
      .describe(`Bash lines run before the variables are exported (e.g. module load). ${EXPANDED}`),
  })
  .refine(
    (r) => r.set !== undefined || r.append !== undefined || r.init !== undefined || r.include !== undefined,
    {
      error: 'an env rule needs at least one of set, append, init or include',
      // not on top of an unknown field (`sett:`): that message says it all
      when: (payload) => payload.issues.length === 0,
    },
  )
  .describe('An env rule.')
  .meta({ id: 'EnvRule' });

/** A list of env rules (`env:`). */
export const EnvRulesSchema = z
  .array(EnvRuleSchema)
  .describe('Env rules, applied in order.')
  .meta({ id: 'EnvRules' });

/** Named rule lists (`env_groups:`), inlined by `include`. */
export const EnvGroupsSchema = z
  .record(z.string().min(1), EnvRulesSchema)
  .describe('Named lists of env rules for `include`.')
  .meta({ id: 'EnvGroups' });

/** A parsed env rule (values are strings). */
export type EnvRule = z.output<typeof EnvRuleSchema>;
/** Parsed `env_groups`. */
export type EnvGroups = Record<string, EnvRule[]>;

/**
 * The first include cycle among `groups`, as the chain of group names (`["a", "b", "a"]`), or
 * null. Includes of unknown groups are ignored here.
 *
 * @example
 * ```ts
 * groupCycle({ a: [{ include: ['b'] }], b: [{ include: ['a'] }] }) // ['a', 'b', 'a']
 * ```
 */
export function groupCycle(
  groups: Readonly<Record<string, readonly { include?: readonly string[] }[]>>,
): string[] | null {
  const state = new Map<string, 'active' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): string[] | null => {
    const s = state.get(name);
    if (s === 'done') return null;
    if (s === 'active') return [...stack.slice(stack.indexOf(name)), name];
    state.set(name, 'active');
    stack.push(name);
    for (const rule of groups[name] ?? []) {
      for (const next of rule.include ?? []) {
        if (!Object.hasOwn(groups, next)) continue;
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(name, 'done');
    return null;
  };
  for (const name of Object.keys(groups)) {
    const found = visit(name);
    if (found) return found;
  }
  return null;
}

/**
 * A partition that is both a key of `map` and the value of another key: mappings are applied once,
 * so such a chain would make the result depend on how often it is applied. Returns the offending
 * key, or null.
 */
export function partitionMapChain(
  map: Readonly<Record<string, string>>,
): { key: string; from: string } | null {
  for (const [from, to] of Object.entries(map)) {
    if (to !== from && Object.hasOwn(map, to) && map[to] !== to) return { key: to, from };
  }
  return null;
}
