import { command } from '../../command.js';
import { renderIssues } from '../../render.js';

export default command({
  meta: { name: 'sync', description: 'Fetch a source now and rediscover its workflow files' },
  args: { name: { type: 'positional', description: 'Source name (see `scripthut source list`)' } },
  examples: ['scripthut source sync pipelines'],
  async run(args, ctx) {
    const source = await (await ctx.api()).syncSource(args.name);
    ctx.out.result(source, () => {
      const lines = [
        source.error
          ? `${ctx.out.style.red('✗')} ${source.name}: ${source.error}`
          : `${ctx.out.style.green('✓')} ${source.name} synced${source.commit ? ` at ${source.commit.slice(0, 12)}` : ''}: ${source.workflows.length} workflow file(s)`,
        ...source.workflows.map((w) => `  ${w.file ?? w.name}${w.description ? ` — ${w.description}` : ''}`),
      ];
      if (source.warnings.length) lines.push(renderIssues(source.warnings, ctx.out.style));
      return lines.join('\n');
    });
    return source.error ? 1 : 0;
  },
});
