/**
 * The one audited shell-quoting helper. Every value that reaches a shell (task fields, config values,
 * paths, environment values) goes through {@link shellQuote}; nothing else in ScriptHut builds shell
 * text from untrusted input.
 *
 * Strategy: POSIX single quotes. Inside single quotes no character is special except `'` itself,
 * which is written as `'\''` (close, escaped quote, reopen). Newlines, `$(...)`, backticks, `;`, `\`,
 * `"` and NUL-free binary text are all inert. NUL bytes cannot be passed to a shell at all and are
 * rejected.
 */

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * Quote one word for bash/sh so that it is passed literally.
 *
 * @example
 * ```ts
 * shellQuote("it's $(rm -rf ~)") // => 'it'\''s $(rm -rf ~)'
 * ```
 */
export function shellQuote(value: string): string {
  if (value.includes('\0')) throw new Error('a shell argument cannot contain a NUL byte');
  if (value !== '' && SAFE.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Quote every word and join with spaces. */
export function shellJoin(words: readonly string[]): string {
  return words.map(shellQuote).join(' ');
}

/**
 * Quote a path that may start with `~` or `~/`: the tilde is left unquoted (so the remote shell
 * expands it to the remote user's home) and the rest is quoted. `~user` forms are not expanded.
 */
export function shellQuotePath(path: string): string {
  if (path === '~') return '"$HOME"';
  if (path.startsWith('~/')) return `"$HOME"/${shellQuote(path.slice(2))}`;
  return shellQuote(path);
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** True when `name` is a valid environment variable name (and thus safe to put unquoted before `=`). */
export function isValidEnvName(name: string): boolean {
  return ENV_NAME.test(name);
}

/** `export NAME='value'` — throws if the name is not a valid variable name. */
export function shellExport(name: string, value: string): string {
  if (!isValidEnvName(name)) throw new Error(`invalid environment variable name: ${JSON.stringify(name)}`);
  return `export ${name}=${shellQuote(value)}`;
}

/**
 * A heredoc delimiter that does not occur as a line in `body`, so the body cannot terminate the
 * heredoc early. Use with a quoted delimiter (`<<'DELIM'`) so nothing inside is expanded.
 */
export function heredocDelimiter(body: string, base = 'SCRIPTHUT_EOF'): string {
  const lines = new Set(body.split('\n'));
  let delim = base;
  for (let i = 1; lines.has(delim); i++) delim = `${base}_${i}`;
  return delim;
}

/** `cmd <<'DELIM'\n<body>\nDELIM` with a delimiter that cannot collide with the body. */
export function withHeredoc(command: string, body: string): string {
  const delim = heredocDelimiter(body);
  return `${command} <<'${delim}'\n${body}${body.endsWith('\n') ? '' : '\n'}${delim}`;
}

/** A piece of an exported value: literal text, or a reference to a variable of the job's shell. */
export type ShellValuePart = string | { ref: string; ifSetSuffix?: string };

/**
 * `export NAME=<value>` whose value mixes literal text (single-quoted) with references expanded by
 * the job's shell: `{ ref: 'USER' }` becomes `"${USER}"`, `{ ref: 'PATH', ifSetSuffix: ':' }`
 * becomes `"${PATH:+${PATH}:}"` (the suffix only when the variable is set and not empty). Throws
 * on an invalid variable name or reference, or a suffix with characters other than `:,;/ ._-`.
 *
 * @example
 * ```ts
 * shellExportParts('SCRATCH', ['/scratch/', { ref: 'USER' }])        // export SCRATCH=/scratch/"${USER}"
 * shellExportParts('PATH', [{ ref: 'PATH', ifSetSuffix: ':' }, '/opt/x/bin']) // export PATH="${PATH:+${PATH}:}"/opt/x/bin
 * ```
 */
export function shellExportParts(name: string, parts: readonly ShellValuePart[]): string {
  if (!isValidEnvName(name)) throw new Error(`invalid environment variable name: ${JSON.stringify(name)}`);
  const words = parts.map((p) => {
    if (typeof p === 'string') return p === '' ? '' : shellQuote(p);
    if (!isValidEnvName(p.ref)) throw new Error(`invalid variable reference: ${JSON.stringify(p.ref)}`);
    const suffix = p.ifSetSuffix ?? '';
    if (!/^[:,;/ ._-]*$/.test(suffix)) throw new Error(`invalid suffix: ${JSON.stringify(suffix)}`);
    return suffix === '' ? `"\${${p.ref}}"` : `"\${${p.ref}:+\${${p.ref}}${suffix}}"`;
  });
  const value = words.join('');
  return `export ${name}=${value === '' ? "''" : value}`;
}
