/** The `not_found` error of a name looked up in the config, naming the known ones and where to list them. */
import { ScriptHutError } from '@scripthut/core';

/**
 * `unknown <what> "<name>"; known <what>s: a, b (<hint>)`, with `details.known`.
 *
 * @example
 * ```ts
 * throw notFound('backend', 'hpc', ['local'], 'scripthut backend list');
 * ```
 */
export function notFound(what: string, name: string, known: string[], hint: string): ScriptHutError {
  return new ScriptHutError(
    'not_found',
    `unknown ${what} "${name}"; ${known.length ? `known ${what}s: ${known.join(', ')}` : `no ${what}s are configured`} (${hint})`,
    { details: { known } },
  );
}

/**
 * The entry called `name` of a config list (`workflows`, `sources`, …), else {@link notFound}
 * naming every entry of the list.
 */
export function namedEntry<T extends { name: string }>(
  entries: readonly T[],
  name: string,
  what: string,
  hint: string,
): T {
  const found = entries.find((e) => e.name === name);
  if (!found)
    throw notFound(
      what,
      name,
      entries.map((e) => e.name),
      hint,
    );
  return found;
}
