/**
 * Container image references, checked against the grammar of Docker/OCI references
 * (github.com/distribution/reference):
 *
 * ```
 * reference        := name [ ":" tag ] [ "@" digest ]
 * name             := [domain "/"] path-component ["/" path-component]*
 * domain           := host [":" port]          host: DNS-like name or [IPv6]
 * path-component   := [a-z0-9]+ (separator [a-z0-9]+)*     separator: "." | "_" | "__" | "-"+
 * tag              := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
 * digest           := algorithm ":" hex{32,}
 * ```
 *
 * A valid reference never starts with `-`, never contains whitespace, quotes or shell syntax, so
 * it cannot be read as an option (`docker run --privileged`) by the command that receives it.
 */

const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|-+)';
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6 = '\\[[a-fA-F0-9:]+\\]';
const DOMAIN = `(?:${DOMAIN_NAME}|${IPV6})(?::[0-9]+)?`;
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);

/** Longest repository name (domain + path) a registry accepts. */
const NAME_TOTAL_LENGTH_MAX = 255;
/** Longer input is rejected before matching (name + tag + a sha512 digest fit well below it). */
const INPUT_LENGTH_MAX = 512;

/**
 * Why `image` is not a valid image reference, or `null` when it is.
 *
 * @example
 * ```ts
 * imageReferenceProblem('ghcr.io/org/tool:1.2@sha256:' + 'a'.repeat(64)) // null
 * imageReferenceProblem('--privileged') // 'must not start with "-"'
 * ```
 */
export function imageReferenceProblem(image: string): string | null {
  if (image === '') return 'must not be empty';
  if (image.startsWith('-')) return 'must not start with "-"';
  if (image.length > INPUT_LENGTH_MAX) return `must be at most ${INPUT_LENGTH_MAX} characters`;
  const m = REFERENCE.exec(image);
  if (!m) {
    const hint = REFERENCE.test(image.toLowerCase()) ? ' (repository names must be lowercase)' : '';
    return `is not a valid image reference${hint}: expected [registry[:port]/]name[:tag][@digest], e.g. "python:3.12" or "ghcr.io/org/tool:1.0"`;
  }
  if (m[1]!.length > NAME_TOTAL_LENGTH_MAX)
    return `repository name must be at most ${NAME_TOTAL_LENGTH_MAX} characters`;
  return null;
}

/** True when `image` is a valid Docker/OCI image reference (see {@link imageReferenceProblem}). */
export function isValidImageReference(image: string): boolean {
  return imageReferenceProblem(image) === null;
}
