/**
 * Static shell completion scripts, generated from the command tree (the same definitions `--help`
 * is rendered from), so a new command or flag is completable without touching this file.
 */

import { RUN_STATUSES } from '@scripthut/core';
import type { ArgsDef, CommandDef } from 'citty';
import { type CompletionKind, extraOf } from './command.js';
import { GLOBAL_ARGS, resolveValue } from './parse.js';

export interface FlagInfo {
  /** `--name`, `-a`, and `--no-name` for switches that default on. */
  names: string[];
  description: string;
  takesValue: boolean;
}

export interface NodeInfo {
  path: string[];
  description: string;
  subcommands: { name: string; description: string }[];
  flags: FlagInfo[];
  /** What each positional argument completes to, in order (null: nothing). */
  positionals: (CompletionKind | null)[];
  /** Flags (`--name`) whose value completes to something. */
  flagValues: Record<string, CompletionKind>;
}

/** Commands whose name starts with `__` are internal: not in help, not completed. */
export function isHidden(name: string): boolean {
  return name.startsWith('__');
}

/** What the completion helper (`scripthut __complete KIND`) draws its candidates from. */
export interface CompletionSources {
  workflows: string[];
  backends: string[];
  sources: string[];
  /** `<source>/<file>` of the synced sources. */
  discovered: string[];
  /** Recent runs, newest first. */
  runs: { id: string; workflow: string }[];
}

/**
 * Candidates of one kind, deduplicated, in a stable order: configured workflows then source
 * files; run ids newest first; names as configured. Words that a shell would split or that carry
 * control characters are left out (they cannot be completed safely).
 */
export function completionCandidates(kind: CompletionKind, from: CompletionSources): string[] {
  const words =
    kind === 'workflows'
      ? [...from.workflows, ...from.discovered]
      : kind === 'runs'
        ? from.runs.map((r) => r.id)
        : kind === 'backends'
          ? from.backends
          : from.sources;
  return [...new Set(words)].filter((w) => w !== '' && !/[\s\u0000-\u001f\u007f'"\\$`]/.test(w));
}

function flagsOf(args: ArgsDef): FlagInfo[] {
  return Object.entries(args)
    .filter(([, d]) => d.type !== 'positional')
    .map(([name, d]) => {
      const aliases = 'alias' in d && d.alias ? (Array.isArray(d.alias) ? d.alias : [d.alias]) : [];
      const names =
        d.type === 'boolean' && d.default === true
          ? [`--no-${name}`]
          : [`--${name}`, ...aliases.map((a) => `-${a}`)];
      return { names, description: d.description ?? '', takesValue: d.type === 'string' };
    });
}

/** Every command node of the tree, depth first (loads every lazy subcommand). */
export async function collectTree(root: CommandDef<ArgsDef>): Promise<NodeInfo[]> {
  const nodes: NodeInfo[] = [];
  const visit = async (cmd: CommandDef<ArgsDef>, path: string[]) => {
    const meta = (await resolveValue(cmd.meta)) ?? {};
    const args = ((await resolveValue(cmd.args)) ?? {}) as ArgsDef;
    const subs = (await resolveValue(cmd.subCommands)) ?? {};
    const complete = extraOf(cmd).complete ?? {};
    const node: NodeInfo = {
      path,
      description: meta.description ?? '',
      subcommands: [],
      flags: [...flagsOf(args), ...flagsOf(GLOBAL_ARGS)],
      positionals: Object.entries(args)
        .filter(([, d]) => d.type === 'positional')
        .map(([name]) => complete[name] ?? null),
      flagValues: Object.fromEntries(
        Object.entries(args)
          .filter(([name, d]) => d.type === 'string' && complete[name])
          .map(([name]) => [`--${name}`, complete[name] as CompletionKind]),
      ),
    };
    nodes.push(node);
    for (const [name, sub] of Object.entries(subs)) {
      if (isHidden(name)) continue;
      const resolved = (await resolveValue(sub)) as CommandDef<ArgsDef>;
      const m = (await resolveValue(resolved.meta)) ?? {};
      node.subcommands.push({ name, description: m.description ?? '' });
      await visit(resolved, [...path, name]);
    }
  };
  await visit(root, []);
  return nodes;
}

/** Value completions for particular flags/positionals. */
const VALUE_WORDS: Record<string, string> = {
  '--status': RUN_STATUSES.join(' '),
};

const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function caseTable(nodes: NodeInfo[], fn: (n: NodeInfo) => string, indent: string): string {
  return nodes.map((n) => `${indent}${sq(n.path.join(' '))}) echo ${sq(fn(n))} ;;`).join('\n');
}

/** `case` arms: command path → the kinds of its positionals (`-` for none), space separated. */
function positionalTable(nodes: NodeInfo[], indent: string): string {
  return nodes
    .filter((n) => n.positionals.some((k) => k !== null))
    .map(
      (n) => `${indent}${sq(n.path.join(' '))}) echo ${sq(n.positionals.map((k) => k ?? '-').join(' '))} ;;`,
    )
    .join('\n');
}

/** `case` arms: `<command path> <flag>` → the kind of the flag's value. */
function flagValueTable(nodes: NodeInfo[], indent: string): string {
  return nodes
    .flatMap((n) =>
      Object.entries(n.flagValues).map(
        ([flag, kind]) => `${indent}${sq(`${n.path.join(' ')} ${flag}`)}) echo ${kind} ;;`,
      ),
    )
    .join('\n');
}

/**
 * The bash completion script (`source <(scripthut completion bash)`). Completes commands, flags,
 * statuses, and — through `scripthut __complete` — workflow names, run ids, backends and sources.
 * Also completes `pnpm scripthut …` (from a clone), handing every other `pnpm` completion to the
 * completion pnpm had before (source this after pnpm's own completion).
 */
export function bashScript(nodes: NodeInfo[]): string {
  return `# bash completion for scripthut — generated by \`scripthut completion bash\`
_scripthut_subcommands() {
  case "$1" in
${caseTable(nodes, (n) => n.subcommands.map((s) => s.name).join(' '), '    ')}
  esac
}
_scripthut_flags() {
  case "$1" in
${caseTable(nodes, (n) => n.flags.flatMap((f) => f.names).join(' '), '    ')}
  esac
}
_scripthut_valued() {
  case "$1" in
${caseTable(
  nodes,
  (n) =>
    n.flags
      .filter((f) => f.takesValue)
      .flatMap((f) => f.names)
      .join(' '),
  '    ',
)}
  esac
}
_scripthut_positionals() {
  case "$1" in
${positionalTable(nodes, '    ')}
  esac
}
_scripthut_flag_value() {
  case "$1" in
${flagValueTable(nodes, '    ')}
  esac
}
# candidates of a kind (workflows, runs, backends, sources) from the live config and store
_scripthut_dynamic() {
  COMPREPLY=($(compgen -W "$("\${_scripthut_cmd[@]}" __complete "$1" 2>/dev/null)" -- "$cur"))
}
_scripthut() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local cmdpath="" w i skip=0 npos=0 start=1 kind
  local -a _scripthut_cmd=("\${COMP_WORDS[0]}")
  if [[ \${COMP_WORDS[0]##*/} == pnpm ]]; then
    # pnpm [run] scripthut …: complete the words after "scripthut", run "pnpm --silent scripthut"
    for ((i = 1; i < COMP_CWORD; i++)); do
      if [[ \${COMP_WORDS[i]} == scripthut ]]; then start=$((i + 1)); break; fi
    done
    _scripthut_cmd=(pnpm --silent scripthut)
  fi
  for ((i = start; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if [[ $skip == 1 ]]; then skip=0; continue; fi
    if [[ $w == -* ]]; then
      [[ $w != *=* && " $(_scripthut_valued "$cmdpath") " == *" $w "* ]] && skip=1
      continue
    fi
    if [[ " $(_scripthut_subcommands "$cmdpath") " == *" $w "* ]]; then cmdpath="\${cmdpath:+$cmdpath }$w"
    else npos=$((npos + 1)); fi
  done
  case "$prev" in
    --config|-c|--token-file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
${Object.entries(VALUE_WORDS)
  .map(([flag, words]) => `    ${flag}) COMPREPLY=($(compgen -W ${sq(words)} -- "$cur")); return ;;`)
  .join('\n')}
  esac
  kind=$(_scripthut_flag_value "$cmdpath $prev")
  if [[ -n $kind ]]; then _scripthut_dynamic "$kind"; return; fi
  if [[ " $(_scripthut_valued "$cmdpath") " == *" $prev "* ]]; then COMPREPLY=(); return; fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(_scripthut_flags "$cmdpath")" -- "$cur"))
  elif [[ $cmdpath == "completion" ]]; then
    COMPREPLY=($(compgen -W 'bash zsh' -- "$cur"))
  elif [[ $cmdpath == "config check" ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  elif [[ -n $(_scripthut_subcommands "$cmdpath") ]]; then
    COMPREPLY=($(compgen -W "$(_scripthut_subcommands "$cmdpath")" -- "$cur"))
  else
    local -a kinds=($(_scripthut_positionals "$cmdpath"))
    kind="\${kinds[npos]}"
    if [[ -n $kind && $kind != - ]]; then _scripthut_dynamic "$kind"; else COMPREPLY=(); fi
  fi
}
complete -F _scripthut scripthut
# pnpm scripthut …: ours; any other pnpm completion goes to the one registered before
_scripthut_pnpm_previous=$(complete -p pnpm 2>/dev/null | sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p')
[[ $_scripthut_pnpm_previous == _scripthut_pnpm ]] && _scripthut_pnpm_previous=
_scripthut_pnpm() {
  local i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      scripthut) _scripthut; return ;;
      run|-*) continue ;;
      *) break ;;
    esac
  done
  if [[ -n $_scripthut_pnpm_previous ]]; then "$_scripthut_pnpm_previous" "$@"
  else COMPREPLY=($(compgen -f -- "\${COMP_WORDS[COMP_CWORD]}")); fi
}
complete -o default -F _scripthut_pnpm pnpm
`;
}

const zq = (s: string) => s.replace(/\\/g, '\\\\').replace(/:/g, '\\:').replace(/'/g, `'\\''`);

/**
 * The zsh completion script (`source <(scripthut completion zsh)` or save as `_scripthut` in
 * $fpath). Same coverage as the bash script, `pnpm scripthut …` included (other pnpm completions go
 * to `_pnpm` when it exists).
 */
export function zshScript(nodes: NodeInfo[]): string {
  const subs = nodes
    .map(
      (n) =>
        `    ${sq(n.path.join(' '))}) reply=(${n.subcommands.map((s) => `'${zq(s.name)}:${zq(s.description)}'`).join(' ')}) ;;`,
    )
    .join('\n');
  const flags = nodes
    .map(
      (n) =>
        `    ${sq(n.path.join(' '))}) reply=(${n.flags.flatMap((f) => f.names.map((name) => `'${zq(name)}:${zq(f.description)}'`)).join(' ')}) ;;`,
    )
    .join('\n');
  const valued = caseTable(
    nodes,
    (n) =>
      n.flags
        .filter((f) => f.takesValue)
        .flatMap((f) => f.names)
        .join(' '),
    '    ',
  );
  return `#compdef scripthut pnpm
# zsh completion for scripthut — generated by \`scripthut completion zsh\`
_scripthut_subcommands() {
  reply=()
  case "$1" in
${subs}
  esac
}
_scripthut_flags() {
  reply=()
  case "$1" in
${flags}
  esac
}
_scripthut_valued() {
  case "$1" in
${valued}
  esac
}
_scripthut_positionals() {
  case "$1" in
${positionalTable(nodes, '    ')}
  esac
}
_scripthut_flag_value() {
  case "$1" in
${flagValueTable(nodes, '    ')}
  esac
}
_scripthut_dynamic() {
  local -a found
  found=(\${(f)"$("\${_scripthut_cmd[@]}" __complete "$1" 2>/dev/null)"})
  (( \${#found} )) && compadd -- "\${found[@]}"
}
_scripthut_main() {
  local cmdpath="" w i skip=0 npos=0 start=2 kind cur="\${words[CURRENT]}" prev="\${words[CURRENT-1]}"
  local -a reply names kinds _scripthut_cmd
  _scripthut_cmd=("\${words[1]}")
  if [[ \${words[1]:t} == pnpm ]]; then
    for ((i = 2; i < CURRENT; i++)); do
      if [[ \${words[i]} == scripthut ]]; then start=$((i + 1)); break; fi
    done
    _scripthut_cmd=(pnpm --silent scripthut)
  fi
  for ((i = start; i < CURRENT; i++)); do
    w="\${words[i]}"
    if [[ $skip == 1 ]]; then skip=0; continue; fi
    if [[ $w == -* ]]; then
      [[ $w != *=* && " $(_scripthut_valued "$cmdpath") " == *" $w "* ]] && skip=1
      continue
    fi
    _scripthut_subcommands "$cmdpath"
    names=(\${reply%%:*})
    if (( \${names[(Ie)$w]} )); then cmdpath="\${cmdpath:+$cmdpath }$w"; else npos=$((npos + 1)); fi
  done
  case "$prev" in
    --config|-c|--token-file) _files; return ;;
${Object.entries(VALUE_WORDS)
  .map(([flag, words]) => `    ${flag}) compadd -- ${words}; return ;;`)
  .join('\n')}
  esac
  kind=$(_scripthut_flag_value "$cmdpath $prev")
  if [[ -n $kind ]]; then _scripthut_dynamic "$kind"; return; fi
  if [[ " $(_scripthut_valued "$cmdpath") " == *" $prev "* ]]; then return; fi
  _scripthut_subcommands "$cmdpath"
  if [[ $cur == -* ]]; then
    _scripthut_flags "$cmdpath"
    _describe -t flags 'flag' reply
  elif [[ $cmdpath == "completion" ]]; then
    compadd -- bash zsh
  elif [[ $cmdpath == "config check" ]]; then
    _files
  elif (( \${#reply} )); then
    _describe -t commands 'command' reply
  else
    kinds=(\${=$(_scripthut_positionals "$cmdpath")})
    kind="\${kinds[npos + 1]}"
    [[ -n $kind && $kind != - ]] && _scripthut_dynamic "$kind"
  fi
}
_scripthut() {
  local i
  if [[ \${words[1]:t} == pnpm ]]; then
    # only \`pnpm [run] scripthut …\` is ours
    for ((i = 2; i < CURRENT; i++)); do
      case "\${words[i]}" in
        scripthut) _scripthut_main; return ;;
        run|-*) continue ;;
        *) break ;;
      esac
    done
    if (( $+functions[_pnpm] )); then _pnpm "$@"; else _default; fi
    return
  fi
  _scripthut_main
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _scripthut "$@"
else
  compdef _scripthut scripthut pnpm
fi
`;
}
