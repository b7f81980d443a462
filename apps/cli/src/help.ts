/** `--help` text, rendered from the command tree (the same tree completion is generated from). */
import type { ArgDef, ArgsDef, CommandDef } from 'citty';
import { extraOf } from './command.js';
import type { Styles } from './output.js';
import { GLOBAL_ARGS, resolveValue } from './parse.js';

function flagLabel(name: string, def: ArgDef): string {
  const aliases = 'alias' in def && def.alias ? (Array.isArray(def.alias) ? def.alias : [def.alias]) : [];
  const parts = [...aliases.map((a) => `-${a}`), `--${name}`];
  let label = parts.join(', ');
  if (def.type === 'string') label += ` <${def.valueHint ?? 'value'}>`;
  if (def.type === 'boolean' && def.default === true) label = `--no-${name}`;
  return label;
}

function flagLines(args: ArgsDef, style: Styles): string[] {
  const rows = Object.entries(args)
    .filter(([, d]) => d.type !== 'positional')
    .map(([name, d]) => {
      const notes = [d.description ?? ''];
      if (d.type === 'string' && d.default !== undefined) notes.push(`(default: ${d.default})`);
      if (d.required) notes.push('(required)');
      return [flagLabel(name, d), notes.filter(Boolean).join(' ')] as const;
    });
  const width = Math.max(0, ...rows.map(([l]) => l.length));
  return rows.map(([l, d]) => `  ${style.bold(l.padEnd(width))}  ${d}`.trimEnd());
}

/** Usage line + description + arguments + flags + subcommands + examples. */
export async function renderHelp(path: string[], cmd: CommandDef<ArgsDef>, style: Styles): Promise<string> {
  const meta = (await resolveValue(cmd.meta)) ?? {};
  const args = ((await resolveValue(cmd.args)) ?? {}) as ArgsDef;
  const subs = await resolveValue(cmd.subCommands);
  const name = ['scripthut', ...path].join(' ');
  const positional = Object.entries(args).filter(([, d]) => d.type === 'positional');
  const usage = [name];
  if (subs && Object.keys(subs).length) usage.push('<command>');
  for (const [p, d] of positional)
    usage.push(
      d.required === false || d.default !== undefined ? `[${p.toUpperCase()}]` : `<${p.toUpperCase()}>`,
    );
  if (extraOf(cmd).allowExtra) usage.push(`[-- ${extraOf(cmd).extraLabel ?? 'COMMAND'}...]`);
  usage.push('[flags]');
  const lines = [
    `${style.bold(name)}${meta.description ? ` — ${meta.description}` : ''}`,
    '',
    `${style.bold('Usage:')} ${usage.join(' ')}`,
  ];
  if (positional.length) {
    lines.push('', style.bold('Arguments:'));
    const width = Math.max(...positional.map(([p]) => p.length));
    for (const [p, d] of positional)
      lines.push(`  ${p.toUpperCase().padEnd(width)}  ${d.description ?? ''}`.trimEnd());
  }
  if (subs && Object.keys(subs).length) {
    lines.push('', style.bold('Commands:'));
    const entries: [string, string][] = [];
    for (const [sub, def] of Object.entries(subs)) {
      if (sub.startsWith('__')) continue; // internal (completion helper)
      const resolved = (await resolveValue(def)) as CommandDef<ArgsDef> | undefined;
      const m = resolved ? await resolveValue(resolved.meta) : undefined;
      entries.push([sub, m?.description ?? '']);
    }
    const width = Math.max(...entries.map(([s]) => s.length));
    for (const [s, d] of entries) lines.push(`  ${style.bold(s.padEnd(width))}  ${d}`.trimEnd());
  }
  const own = flagLines(args, style);
  if (own.length) lines.push('', style.bold('Flags:'), ...own);
  lines.push('', style.bold('Global flags:'), ...flagLines(GLOBAL_ARGS, style));
  const examples = extraOf(cmd).examples;
  if (examples?.length) lines.push('', style.bold('Examples:'), ...examples.map((e) => `  ${e}`));
  if (subs && Object.keys(subs).length)
    lines.push('', `Run \`${name} <command> --help\` for a command's flags.`);
  return `${lines.join('\n')}\n`;
}
