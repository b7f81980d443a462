import type { ArgsDef, CommandDef } from 'citty';
import { describe, expect, it } from 'vitest';
import { rootCommand } from '../../src/commands/index.js';
import { UsageError } from '../../src/errors.js';
import { parseCommandArgs, resolveCommand } from '../../src/parse.js';

const root = rootCommand as CommandDef<ArgsDef>;

describe('resolveCommand', () => {
  it('finds the leaf with global flags before and after the command names', async () => {
    const r = await resolveCommand(root, ['-c', 'x.yaml', 'run', '--json', 'list', '--limit', '5']);
    expect(r.path).toEqual(['run', 'list']);
    expect(r.rest).toEqual(['-c', 'x.yaml', '--json', '--limit', '5']);
  });

  it('rejects an unknown command and lists the valid ones', async () => {
    const err = await resolveCommand(root, ['run', 'lsit']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).message).toBe(
      'unknown command "lsit" for `scripthut run`; commands: list, view, watch, cancel, rerun, logs',
    );
    expect((err as UsageError).exitCode).toBe(2);
  });
});

describe('parseCommandArgs', () => {
  const def = {
    id: { type: 'positional', description: '' },
    limit: { type: 'string', description: '' },
    watch: { type: 'boolean', alias: 'w', description: '' },
    env: { type: 'string', description: '' },
  } as const satisfies ArgsDef;

  it('parses positionals, flags, aliases, = values and defaults', () => {
    const a = parseCommandArgs(['x'], def, ['abc', '--limit=3', '-w', '--no-color']);
    expect(a.id).toBe('abc');
    expect(a.limit).toBe('3');
    expect(a.watch).toBe(true);
    expect(a.color).toBe(false);
    expect(a.json).toBe(false);
  });

  it('keeps every value of a repeatable flag', () => {
    const a = parseCommandArgs(['x'], def, ['abc', '--env', 'A=1', '--env', 'B=2'], { repeatable: ['env'] });
    expect(a.env).toEqual(['A=1', 'B=2']);
  });

  it('rejects unknown flags with a suggestion', () => {
    expect(() => parseCommandArgs(['run', 'list'], def, ['abc', '--limt', '3'])).toThrow(
      'unknown flag "--limt" for `scripthut run list`; did you mean --limit?',
    );
  });

  it('rejects a missing value, a missing positional and extra positionals', () => {
    expect(() => parseCommandArgs(['x'], def, ['abc', '--limit'])).toThrow('flag "--limit" needs a value');
    expect(() => parseCommandArgs(['x'], def, ['--limit', '2'])).toThrow('missing argument ID');
    expect(() => parseCommandArgs(['x'], def, ['a', 'b'])).toThrow('unexpected argument "b"');
  });

  it('passes everything after -- through untouched', () => {
    const a = parseCommandArgs(['x'], def, ['abc', '--', 'python', '--lr', '1'], { allowExtra: true });
    expect(a._).toEqual(['python', '--lr', '1']);
  });

  it('does not take a negative number for a flag', () => {
    const a = parseCommandArgs(['x'], def, ['abc', '--limit', '-1']);
    expect(a.limit).toBe('-1');
  });
});
