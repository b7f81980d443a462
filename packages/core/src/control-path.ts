/**
 * Syntax of an OpenSSH `ControlPath` (`ssh.control_path` of Slurm/PBS backends), shared by the
 * config loader and the OpenSSH transport of `@scripthut/ssh` (which also expands it).
 */

/** The `%` tokens `ssh` accepts in `ControlPath` (ssh_config(5), TOKENS). */
export const CONTROL_PATH_TOKENS = [
  '%%',
  '%C',
  '%d',
  '%h',
  '%i',
  '%k',
  '%L',
  '%l',
  '%n',
  '%p',
  '%r',
  '%u',
] as const;

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Why `path` cannot be used as `ssh.control_path`, or null when it can: empty, `none` (which turns
 * connection sharing off), a leading `-`, a NUL byte or newline, an unknown `%` token, a lone `%`
 * at the end, or a malformed `${...}` reference.
 *
 * @example
 * ```ts
 * controlPathProblem('~/.ssh/cm-%r@%h:%p') // null
 * controlPathProblem('~/.ssh/cm-%x')       // 'unknown token "%x" (supported: %%, %C, ...)'
 * ```
 */
export function controlPathProblem(path: string): string | null {
  if (path.trim() === '') return 'must not be empty';
  if (path === 'none')
    return '"none" turns connection sharing off; remove control_path to use the built-in SSH client';
  if (path.startsWith('-')) return 'must not start with "-"';
  if (/[\u0000\n\r]/.test(path)) return 'must not contain NUL bytes or line breaks';
  for (let i = 0; i < path.length; i++) {
    if (path[i] !== '%') continue;
    const next = path[i + 1];
    if (next === undefined) return 'ends with a lone "%" (write "%%" for a literal percent sign)';
    const token = `%${next}`;
    if (!(CONTROL_PATH_TOKENS as readonly string[]).includes(token))
      return `unknown token "${token}" (supported: ${CONTROL_PATH_TOKENS.join(', ')})`;
    i++;
  }
  const withoutRefs = path.replace(ENV_REF, '');
  // biome-ignore lint/suspicious/noTemplateCurlyInString: describes the ${NAME} syntax
  if (withoutRefs.includes('${')) return 'has a malformed "${...}" reference (expected ${NAME})';
  return null;
}
