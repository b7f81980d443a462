/**
 * Markdown written by tasks (task summaries, run-summary fragments, `.md` outputs), rendered for
 * the UI. Two layers: markdown-it with raw HTML disabled (tags in the text come out escaped), then
 * sanitize-html with a tight allow-list. Images are kept only when they point at a recorded output
 * of the task (rewritten to the authenticated file route); any other image is dropped, so a summary
 * can neither load remote content nor reach another route.
 */
import MarkdownIt from 'markdown-it';
import sanitizeHtml from 'sanitize-html';

const md = new MarkdownIt({ html: false, linkify: false, typographer: false });

/** Where the images of a markdown document come from. */
export interface MarkdownImages {
  /**
   * URL of the recorded output at `relPath` (relative to the output directory), or null when no
   * such file was recorded.
   */
  resolve(relPath: string): string | null;
}

/** Normalise an image reference relative to the directory of the document (`base`, '' for the root). */
export function resolveRelative(base: string, ref: string): string | null {
  if (!ref || /^[a-z][a-z0-9+.-]*:/i.test(ref) || ref.startsWith('/') || ref.startsWith('//')) return null;
  let path: string;
  try {
    path = decodeURIComponent(ref.split(/[?#]/)[0]!);
  } catch {
    return null;
  }
  const parts = base ? base.split('/') : [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (!parts.length) return null;
      parts.pop();
    } else parts.push(seg);
  }
  return parts.length ? parts.join('/') : null;
}

const ALLOWED_TAGS = [
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'p',
  'br',
  'hr',
  'ul',
  'ol',
  'li',
  'blockquote',
  'pre',
  'code',
  'em',
  'strong',
  's',
  'del',
  'a',
  'img',
  'table',
  'thead',
  'tbody',
  'tr',
  'th',
  'td',
];

/** Prefix every allowed image URL has (the authenticated output-file route). */
export const OUTPUT_IMAGE_PREFIX = '/api/v1/runs/';

/**
 * Render task-written markdown to safe HTML. `base` is the directory of the document inside the
 * output directory ('' for the task summary); `images` turns its relative image references into
 * file URLs (no `images`: every image is dropped).
 */
export function renderMarkdown(
  text: string,
  options: { base?: string; images?: MarkdownImages } = {},
): string {
  const env = {};
  const tokens = md.parse(text, env);
  for (const block of tokens) {
    for (const t of block.children ?? []) {
      if (t.type !== 'image') continue;
      const rel = resolveRelative(options.base ?? '', t.attrGet('src') ?? '');
      const url = rel && options.images ? options.images.resolve(rel) : null;
      t.attrSet('src', url ?? '');
    }
  }
  const html = md.renderer.render(tokens, md.options, env);
  return sanitizeHtml(html, {
    allowedTags: ALLOWED_TAGS,
    allowedAttributes: { a: ['href', 'title', 'rel'], img: ['src', 'alt', 'title'], code: ['class'] },
    allowedSchemes: ['http', 'https', 'mailto'],
    allowedSchemesByTag: { img: [] },
    allowProtocolRelative: false,
    transformTags: {
      a: (tagName, attribs) => ({ tagName, attribs: { ...attribs, rel: 'noopener noreferrer nofollow' } }),
    },
    exclusiveFilter: (frame) =>
      frame.tag === 'img' && !(frame.attribs.src ?? '').startsWith(OUTPUT_IMAGE_PREFIX),
    allowedClasses: { code: [/^language-[\w-]+$/] },
  });
}
