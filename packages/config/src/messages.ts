/**
 * Turns zod issues into ScriptHut's plain messages (`expected an integer from 1 to 65535, got "22x"`).
 * Used as the parse-level error map; per-field messages (integer bounds) are set in the schemas.
 */
import type { z } from 'zod';
import { didYouMean, quoteList, show } from './suggest.js';

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'a boolean (true or false)',
  object: 'a mapping',
  record: 'a mapping',
  map: 'a mapping',
  array: 'a list',
  null: 'null',
};

type RawIssue = z.core.$ZodRawIssue;

function describeExpected(expected: unknown): string {
  return EXPECTED[String(expected)] ?? String(expected);
}

/** Allowed keys of the strict object that raised an `unrecognized_keys` issue. */
function allowedKeys(iss: RawIssue): string[] {
  const def = (iss.inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def;
  return Object.keys(def?.shape ?? {});
}

/** Message for one unknown key, with a suggestion or the list of allowed keys. */
export function unknownKeyMessage(key: string, allowed: readonly string[]): string {
  const hint = didYouMean(key, allowed);
  if (hint) return `unknown field "${key}"${hint}`;
  return allowed.length > 0
    ? `unknown field "${key}" (allowed: ${allowed.join(', ')})`
    : `unknown field "${key}"`;
}

/**
 * The error map handed to `safeParse`. Returns undefined to fall back to zod's message for
 * issue kinds we do not expect from our schemas.
 */
export function configErrorMap(iss: RawIssue): string | undefined {
  const input = iss.input;
  switch (iss.code) {
    case 'invalid_type':
      if (input === undefined) return 'required field is missing';
      return `expected ${describeExpected(iss.expected)}, got ${show(input)}`;
    case 'too_small':
      if (iss.origin === 'string') return `expected a non-empty string, got ${show(input)}`;
      if (iss.origin === 'array') return `expected at least ${String(iss.minimum)} item(s)`;
      return `expected a number >= ${String(iss.minimum)}, got ${show(input)}`;
    case 'too_big':
      if (iss.origin === 'string') return `expected at most ${String(iss.maximum)} characters`;
      if (iss.origin === 'array') return `expected at most ${String(iss.maximum)} item(s)`;
      return `expected a number <= ${String(iss.maximum)}, got ${show(input)}`;
    case 'invalid_value': {
      const values = iss.values as readonly unknown[];
      const hint = typeof input === 'string' ? didYouMean(input, values.map(String)) : '';
      if (values.length === 1) return `expected ${JSON.stringify(values[0])}, got ${show(input)}${hint}`;
      return `expected one of ${quoteList(values)}, got ${show(input)}${hint}`;
    }
    case 'unrecognized_keys': {
      const allowed = allowedKeys(iss);
      return (iss.keys as string[]).map((k) => unknownKeyMessage(k, allowed)).join('\n');
    }
    case 'invalid_union': {
      const disc = (iss as { discriminator?: string }).discriminator;
      const options = (iss as { options?: unknown[] }).options;
      if (disc && options) {
        const value =
          typeof input === 'object' && input !== null ? (input as Record<string, unknown>)[disc] : undefined;
        if (typeof input !== 'object' || input === null || Array.isArray(input))
          return `expected a mapping, got ${show(input)}`;
        if (value === undefined) return `required field is missing; expected one of ${quoteList(options)}`;
        const hint = typeof value === 'string' ? didYouMean(value, options.map(String)) : '';
        return `expected one of ${quoteList(options)}, got ${show(value)}${hint}`;
      }
      return `does not match any allowed form, got ${show(input)}`;
    }
    case 'invalid_key': {
      const inner = (iss as { issues?: { message?: string }[] }).issues?.[0]?.message ?? 'invalid key';
      return `key ${JSON.stringify(input)} ${inner}`;
    }
    case 'invalid_format':
      return `has an invalid format, got ${show(input)}`;
    default:
      return undefined;
  }
}
