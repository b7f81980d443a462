import type { ArgsDef, CommandDef } from 'citty';
import { command } from '../command.js';
import { bashScript, collectTree, zshScript } from '../completion.js';
import { UsageError } from '../errors.js';

export default command({
  meta: { name: 'completion', description: 'Print a shell completion script (bash or zsh)' },
  args: { shell: { type: 'positional', description: 'bash or zsh' } },
  examples: [
    'source <(scripthut completion bash)          # in ~/.bashrc',
    'scripthut completion zsh > ~/.zsh/completions/_scripthut  # a directory in $fpath',
  ],
  async run(args, ctx) {
    if (args.shell !== 'bash' && args.shell !== 'zsh') {
      throw new UsageError(`unsupported shell "${args.shell}"; supported: bash, zsh`);
    }
    const { rootCommand } = await import('./index.js');
    const nodes = await collectTree(rootCommand as CommandDef<ArgsDef>);
    const script = args.shell === 'bash' ? bashScript(nodes) : zshScript(nodes);
    ctx.out.result({ shell: args.shell, script }, () => script);
    return 0;
  },
});
