import { shellQuote } from '@scripthut/core';
import type { AdhocTaskInput } from '@scripthut/runtime';
import { command, numberFlag } from '../../command.js';
import { UsageError } from '../../errors.js';
import { reportStartedRun } from '../../watch.js';

/** `K=V` pairs → record; names must be valid shell variable names. */
export function parseEnvPairs(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = eq === -1 ? pair : pair.slice(0, eq);
    if (eq === -1 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new UsageError(`--env expects NAME=VALUE with a shell variable name; got "${pair}"`);
    }
    env[key] = pair.slice(eq + 1);
  }
  return env;
}

export default command({
  meta: { name: 'run', description: 'Run one command as a single-task run on a backend' },
  args: {
    command: {
      type: 'positional',
      required: false,
      description: 'Bash command (quote it), or give it after `--`',
    },
    backend: {
      type: 'string',
      required: true,
      description: 'Backend to run on (see `scripthut backend list`)',
      valueHint: 'name',
    },
    cpus: { type: 'string', description: 'CPUs', valueHint: 'n' },
    memory: { type: 'string', description: 'Memory, Slurm syntax (e.g. 4G, 500M)', valueHint: 'size' },
    time: { type: 'string', description: 'Time limit [D-]HH:MM:SS', valueHint: 'limit' },
    partition: { type: 'string', description: 'Partition / queue', valueHint: 'name' },
    gres: { type: 'string', description: 'Generic resources, e.g. gpu:1', valueHint: 'gres' },
    'working-dir': {
      type: 'string',
      description: 'Working directory on the backend (default ~)',
      valueHint: 'dir',
    },
    image: { type: 'string', description: 'Container image (Batch/EC2)', valueHint: 'image' },
    env: {
      type: 'string',
      description: 'Environment variable NAME=VALUE (repeatable)',
      valueHint: 'NAME=VALUE',
    },
    name: { type: 'string', description: 'Task name (default: the id)', valueHint: 'name' },
    id: { type: 'string', description: 'Task id (default: adhoc-<hex>)', valueHint: 'id' },
    'run-name': { type: 'string', description: 'Name of the run in lists', valueHint: 'name' },
    watch: {
      type: 'boolean',
      alias: 'w',
      description: 'Follow the run until it ends (exit 5 if the task fails)',
    },
    interval: {
      type: 'string',
      description: 'Seconds between refreshes while watching',
      valueHint: 'seconds',
      default: '1',
    },
  },
  repeatable: ['env'],
  allowExtra: true,
  complete: { backend: 'backends' },
  examples: [
    'scripthut task run "hostname; nproc" --backend local --watch',
    'scripthut task run --backend hpc --cpus 4 --memory 8G --env SEED=1 -- python train.py --epochs 3',
  ],
  async run(args, ctx) {
    const extra = args._;
    let cmd: string;
    if (args.command !== undefined && extra.length === 0) cmd = args.command;
    else if (args.command === undefined && extra.length > 0) cmd = extra.map((a) => shellQuote(a)).join(' ');
    else if (args.command !== undefined) {
      throw new UsageError('give the command either as one quoted argument or after `--`, not both');
    } else
      throw new UsageError(
        'missing COMMAND for `scripthut task run`',
        'e.g. `scripthut task run "echo hi" --backend local`',
      );
    if (cmd.trim() === '') throw new UsageError('COMMAND is empty');
    const cpus = numberFlag('cpus', args.cpus, { min: 1, integer: true });
    const interval = numberFlag('interval', args.interval, { min: 0.2 });
    const envPairs = (args.env as unknown as string[] | undefined) ?? [];
    const input: AdhocTaskInput = {
      command: cmd,
      backend: args.backend,
      ...(args.id ? { id: args.id } : {}),
      ...(args.name ? { name: args.name } : {}),
      ...(args['run-name'] ? { runName: args['run-name'] } : {}),
      ...(cpus !== undefined ? { cpus } : {}),
      ...(args.memory ? { memory: args.memory } : {}),
      ...(args.time ? { timeLimit: args.time } : {}),
      ...(args.partition ? { partition: args.partition } : {}),
      ...(args.gres ? { gres: args.gres } : {}),
      ...(args['working-dir'] ? { workingDir: args['working-dir'] } : {}),
      ...(args.image ? { image: args.image } : {}),
      ...(envPairs.length ? { env: parseEnvPairs(envPairs) } : {}),
    };
    const api = await ctx.api();
    const summary = await api.runAdhocTask(input);
    return reportStartedRun(api, ctx, summary, { watch: args.watch, intervalSeconds: interval });
  },
});
