import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { command, numberFlag } from '../../command.js';
import { daemonLogPath } from '../../daemon.js';
import { InterruptedError } from '../../errors.js';
import { locate } from '../../locate.js';
import { lastLines } from '../run/logs.js';

function readRange(path: string, from: number, to: number): string {
  if (to <= from) return '';
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(to - from);
    const n = readSync(fd, buf, 0, buf.length, from);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function sizeOf(path: string): number | null {
  try {
    return statSync(path).size;
  } catch {
    return null;
  }
}

export default command({
  meta: {
    name: 'logs',
    description: "Print the daemon's log (<data_dir>/daemon.log), optionally following it",
  },
  args: {
    lines: {
      type: 'string',
      alias: 'n',
      description: 'How many lines from the end',
      valueHint: 'n',
      default: '50',
    },
    follow: { type: 'boolean', alias: 'f', description: 'Keep printing new lines until Ctrl-C' },
  },
  examples: ['scripthut daemon logs', 'scripthut daemon logs -f'],
  async run(args, ctx) {
    const n = numberFlag('lines', args.lines, { min: 0, integer: true }) ?? 50;
    const target = await locate(ctx.globals, ctx.env, ctx.cwd);
    const path = daemonLogPath(target.dataDir);
    const size = sizeOf(path);
    const tail = size === null ? '' : lastLines(readRange(path, Math.max(0, size - 1024 * 1024), size), n);
    if (ctx.out.json) {
      ctx.out.result({ path, exists: size !== null, content: tail }, () => '');
      return 0;
    }
    if (size === null) ctx.out.info(`no daemon log yet (${path})`);
    ctx.out.raw(tail);
    if (!args.follow) return 0;
    let offset = size ?? 0;
    try {
      for (;;) {
        await ctx.sleep(500);
        const now = sizeOf(path);
        if (now === null) continue;
        if (now < offset) offset = 0; // truncated or replaced
        ctx.out.raw(readRange(path, offset, now));
        offset = now;
      }
    } catch (e) {
      if (e instanceof InterruptedError) return 0; // Ctrl-C is how following ends
      throw e;
    }
  },
});
