/**
 * Fuzzing config files with fast-check: `validateConfigText` never crashes on mutations of the
 * spec's Complete Example (neither a throw nor its defensive "could not be validated" fallback),
 * and every issue names a path.
 */
import { validateConfigText } from '@scripthut/config';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COMPLETE_EXAMPLE, COMPLETE_EXAMPLE_OBJECT } from './fixtures.js';
import { nasty, opts } from './fuzz-common.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** All paths to nodes of a parsed YAML document (objects/arrays/leaves). */
function nodePaths(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(value)) for (const [i, v] of value.entries()) out.push(...nodePaths(v, [...prefix, i]));
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) out.push(...nodePaths(v, [...prefix, k]));
  return out;
}

function setAt(root: Json, path: (string | number)[], op: 'set' | 'delete', value?: Json): Json {
  if (path.length === 0) return op === 'set' ? (value as Json) : null;
  const copy = structuredClone(root);
  let node = copy as Record<string | number, Json>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, Json>;
  const last = path[path.length - 1]!;
  if (op === 'delete') {
    if (Array.isArray(node)) node.splice(last as number, 1);
    else delete node[last];
  } else node[last] = value as Json;
  return copy;
}

function checkConfigText(text: string): void {
  let result: ReturnType<typeof validateConfigText>;
  try {
    result = validateConfigText(text, 'scripthut.yaml', { homeDir: '/nonexistent-home' });
  } catch (e) {
    throw new Error(`validateConfigText threw: ${String(e)}`, { cause: e });
  }
  for (const issue of [...result.issues, ...result.warnings]) {
    expect(issue.message).not.toMatch(/could not be validated/);
    expect(typeof issue.path).toBe('string');
    expect(issue.path.length, `issue without path: ${JSON.stringify(issue)}`).toBeGreaterThan(0);
  }
  if (result.issues.length === 0) expect(result.config).toBeDefined();
}

describe('fuzz: config files through validateConfigText (mutations of the Complete Example)', () => {
  const base = COMPLETE_EXAMPLE_OBJECT as unknown as Json;
  const toText = (doc: Json) => JSON.stringify(doc, null, 2);
  const paths = nodePaths(base);

  it('the Complete Example itself validates', () => {
    const r = validateConfigText(COMPLETE_EXAMPLE, 'scripthut.yaml', { homeDir: '/nonexistent-home' });
    expect(r.issues).toEqual([]);
    const j = validateConfigText(toText(base), 'scripthut.yaml', { homeDir: '/nonexistent-home' });
    expect(j.config).toEqual(r.config);
  });

  it('structural mutations (set any node to a random value, delete any node) never crash it', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            path: fc.constantFrom(...paths),
            op: fc.constantFrom('set' as const, 'delete' as const),
            value: nasty as fc.Arbitrary<Json>,
          }),
          { minLength: 1, maxLength: 3 },
        ),
        (ms) => {
          let doc = base;
          for (const m of ms) {
            try {
              doc = setAt(doc, m.path, m.op, m.value);
            } catch {
              // path vanished after an earlier mutation: skip
            }
          }
          const result = validateConfigText(toText(doc), 'scripthut.yaml', { homeDir: '/nonexistent-home' });
          checkConfigText(toText(doc));
          // A single set of a leaf to a wrong type is reported at (or under) that path.
          if (ms.length === 1 && result.issues.length > 0 && ms[0]!.path.length > 0) {
            const top = String(ms[0]!.path[0]);
            // ... or at a reference to a name that the mutation changed (e.g. `workflows[0].backend`).
            expect(
              result.issues.some((i) => i.path.includes(top) || /\.(backend|environment)$/.test(i.path)),
              JSON.stringify(result.issues),
            ).toBe(true);
          }
        },
      ),
      opts(800),
    );
  });

  it('text mutations (insert/delete/replace characters, duplicate lines) never crash it', () => {
    const lines = COMPLETE_EXAMPLE.split('\n');
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({
              kind: fc.constant('insert' as const),
              at: fc.nat(),
              text: fc.string({ unit: 'binary', maxLength: 6 }),
            }),
            fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), len: fc.nat({ max: 20 }) }),
            fc.record({ kind: fc.constant('dupLine' as const), at: fc.nat() }),
            fc.record({
              kind: fc.constant('indent' as const),
              at: fc.nat(),
              by: fc.integer({ min: -4, max: 4 }),
            }),
          ),
          { minLength: 1, maxLength: 4 },
        ),
        (ms) => {
          let text = COMPLETE_EXAMPLE;
          for (const m of ms) {
            const at = m.at % (text.length + 1);
            if (m.kind === 'insert') text = text.slice(0, at) + m.text + text.slice(at);
            else if (m.kind === 'cut') text = text.slice(0, at) + text.slice(at + m.len);
            else {
              const ls = text.split('\n');
              const i = m.at % ls.length;
              if (m.kind === 'dupLine') ls.splice(i, 0, ls[i]!);
              else ls[i] = m.by >= 0 ? ' '.repeat(m.by) + ls[i] : ls[i]!.slice(-m.by);
              text = ls.join('\n');
            }
          }
          checkConfigText(text);
        },
      ),
      opts(800),
    );
    expect(lines.length).toBeGreaterThan(10);
  });
});
