import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { findConfigFile, validateConfigText } from '@scripthut/config';
import { command } from '../../command.js';
import { CliError, ExitCode } from '../../errors.js';
import { renderIssues } from '../../render.js';

/** Validates a config file locally (no runtime, no server): an invalid file can still be checked. */
export default command({
  meta: { name: 'check', description: 'Validate a scripthut.yaml (exit 2 when invalid)' },
  args: {
    file: {
      type: 'positional',
      required: false,
      description: 'File to check (default: --config, else ./scripthut.yaml or ./scripthut.yml)',
    },
  },
  examples: ['scripthut config check', 'scripthut config check deploy/scripthut.yaml --json'],
  async run(args, ctx) {
    const explicit = args.file ?? ctx.globals.config;
    const path = explicit ? resolve(ctx.cwd, explicit) : findConfigFile(ctx.cwd);
    if (!path) {
      throw new CliError(`no scripthut.yaml or scripthut.yml in ${ctx.cwd}`, {
        exitCode: ExitCode.usage,
        hint: 'pass a file: `scripthut config check FILE` (without a file ScriptHut uses its built-in demo config)',
      });
    }
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      throw new CliError(
        `cannot read config file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        {
          exitCode: ExitCode.usage,
          hint: 'check the path',
        },
      );
    }
    const name = explicit ?? basename(path);
    const result = validateConfigText(text, name);
    const valid = result.issues.length === 0;
    const cfg = result.config;
    ctx.out.result({ file: path, valid, issues: result.issues, warnings: result.warnings }, () => {
      const lines: string[] = [];
      if (valid && cfg) {
        const counts = [
          `${cfg.backends.length} backend(s)`,
          `${cfg.workflows.length} workflow(s)`,
          `${cfg.sources.length} source(s)`,
          `${cfg.projects.length} project(s)`,
        ].join(', ');
        lines.push(`${ctx.out.style.green('✓')} ${name} is valid: ${counts}`);
      } else {
        lines.push(`${ctx.out.style.red('✗')} ${name}: ${result.issues.length} error(s)`);
        lines.push(renderIssues(result.issues, ctx.out.style, 'error'));
      }
      if (result.warnings.length) lines.push(renderIssues(result.warnings, ctx.out.style));
      return lines.join('\n');
    });
    return valid ? ExitCode.ok : ExitCode.usage;
  },
});
