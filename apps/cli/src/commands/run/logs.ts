import { isTerminalTaskState } from '@scripthut/core';
import { command, numberFlag } from '../../command.js';
import { intervalMs } from '../../watch.js';

const PAGE = 1024 * 1024;

/** Last `n` lines of `text` (a trailing newline does not count as an empty line). */
export function lastLines(text: string, n: number): string {
  if (n <= 0) return '';
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  const lines = body.split('\n');
  const kept = lines.slice(Math.max(0, lines.length - n)).join('\n');
  return text.endsWith('\n') && kept !== '' ? `${kept}\n` : kept;
}

export default command({
  meta: { name: 'logs', description: "Print a task's output (stdout, or --stderr), optionally following it" },
  args: {
    id: { type: 'positional', description: 'Run id' },
    task: { type: 'positional', description: 'Task id (see `scripthut run view ID`)' },
    stderr: { type: 'boolean', description: 'Read the error stream instead of the output' },
    tail: { type: 'string', description: 'Only the last N lines', valueHint: 'n' },
    follow: { type: 'boolean', alias: 'f', description: 'Keep printing new output until the task ends' },
    interval: {
      type: 'string',
      description: 'Seconds between reads while following',
      valueHint: 'seconds',
      default: '1',
    },
  },
  access: (args) => (args.follow ? 'drive' : 'read'),
  complete: { id: 'runs' },
  examples: [
    'scripthut run logs 1a2b3c4d train.3 --tail 50',
    'scripthut run logs 1a2b3c4d train.3 --stderr -f',
  ],
  async run(args, ctx) {
    const tail = numberFlag('tail', args.tail, { min: 0, integer: true });
    const interval = intervalMs(numberFlag('interval', args.interval, { min: 0.2 }), 1);
    const stream = args.stderr ? 'stderr' : 'stdout';
    const api = await ctx.api();
    // not-found errors before any output; the task names the full run id (ID may be a prefix)
    const runId = (await api.getTask(args.id, args.task)).runId;
    let collected = '';
    const emit = (text: string) => {
      if (!text) return;
      if (ctx.out.json) collected += text;
      else ctx.out.raw(text);
    };
    const notes = new Set<string>();
    const note = (n: string | undefined) => {
      if (n && !notes.has(n)) {
        notes.add(n);
        ctx.out.info(`note: ${n}`);
      }
    };

    // initial read
    let offset: number;
    let missing = false;
    if (tail !== undefined) {
      const chunk = await api.readTaskLog(runId, args.task, stream, {
        tailBytes: Math.max(64 * 1024, tail * 1024),
        maxBytes: PAGE * 8,
      });
      emit(lastLines(chunk.content, tail));
      offset = chunk.nextOffset;
      missing = chunk.missing === true;
      note(chunk.note);
    } else {
      offset = 0;
      for (;;) {
        const chunk = await api.readTaskLog(runId, args.task, stream, { offset, maxBytes: PAGE });
        emit(chunk.content);
        note(chunk.note);
        missing = chunk.missing === true;
        const advanced = chunk.nextOffset > offset;
        offset = chunk.nextOffset;
        if (!advanced || chunk.content.length === 0) break;
      }
    }
    if (missing) ctx.out.info(`note: the ${stream} log of ${args.task} does not exist yet`);

    if (args.follow) {
      let quietAfterEnd = 0;
      for (;;) {
        const task = await api.getTask(runId, args.task);
        await ctx.sleep(interval);
        const chunk = await api.readTaskLog(runId, args.task, stream, { offset, maxBytes: PAGE });
        emit(chunk.content);
        note(chunk.note);
        offset = chunk.nextOffset;
        if (isTerminalTaskState(task.state) && !chunk.content) {
          // one more empty read after the end catches a final flush
          if (++quietAfterEnd >= 2) {
            ctx.out.info(
              `task ${args.task} ended: ${task.state}${task.exitCode !== null ? ` (exit ${task.exitCode})` : ''}`,
            );
            break;
          }
        }
      }
    }
    if (ctx.out.json) {
      ctx.out.result(
        {
          runId,
          taskId: args.task,
          stream,
          content: collected,
          nextOffset: offset,
          missing,
          notes: [...notes],
        },
        () => '',
      );
    }
    return 0;
  },
});
