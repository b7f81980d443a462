import { command } from '../../command.js';
import { escapeControl } from '../../output.js';
import { renderIssues } from '../../render.js';

export default command({
  meta: { name: 'sync', description: 'Fetch a source now and rediscover its workflow files' },
  args: { name: { type: 'positional', description: 'Source name (see `scripthut source list`)' } },
  complete: { name: 'sources' },
  examples: ['scripthut source sync pipelines'],
  async run(args, ctx) {
    const source = await (await ctx.api()).syncSource(args.name);
    ctx.out.result(source, () => {
      const e1 = (t: string) => escapeControl(t, { singleLine: true });
      const lines = [
        source.error
          ? `${ctx.out.style.red('✗')} ${e1(source.name)}: ${escapeControl(source.error)}`
          : `${ctx.out.style.green('✓')} ${e1(source.name)} synced${source.commit ? ` at ${e1(source.commit.slice(0, 12))}` : ''}: ${source.workflows.length} workflow file(s)`,
        ...source.workflows.map(
          (w) => `  ${e1(w.file ?? w.name)}${w.description ? ` — ${e1(w.description)}` : ''}`,
        ),
      ];
      if (source.warnings.length) lines.push(renderIssues(source.warnings, ctx.out.style));
      return lines.join('\n');
    });
    return source.error ? 1 : 0;
  },
});
