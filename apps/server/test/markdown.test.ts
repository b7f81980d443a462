import { describe, expect, it } from 'vitest';
import { renderMarkdown, resolveRelative } from '../src/markdown.js';

const images = (recorded: string[]) => ({
  resolve: (rel: string) =>
    recorded.includes(rel) ? `/api/v1/runs/r/tasks/t/outputs/file?path=${rel}` : null,
});

describe('task markdown rendering', () => {
  it('renders markdown and escapes raw HTML (no tag of the task survives)', () => {
    const html = renderMarkdown(
      '# Title\n\n**bold** <script>alert(1)</script> <img src=x onerror=alert(1)>\n',
    );
    expect(html).toContain('<h1>Title</h1>');
    expect(html).toContain('<strong>bold</strong>');
    expect(html).not.toMatch(/<script|<img/);
    expect(html).toContain('&lt;script&gt;');
  });

  it('keeps only http(s)/mailto links, with rel=noopener', () => {
    const html = renderMarkdown('[a](https://x.org) [b](javascript:alert(1)) [c](data:text/html,x)');
    expect(html).toContain('<a href="https://x.org" rel="noopener noreferrer nofollow">a</a>');
    expect(html.match(/<a /g)).toHaveLength(1); // the others stay plain text
    expect(html).not.toMatch(/href="(javascript|data):/);
  });

  it('keeps images that are recorded outputs of the task (rewritten to the file route), drops others', () => {
    const md =
      '![a](plot.png) ![b](sub/../plot.png) ![c](https://evil.example/x.png) ![d](missing.png) ![e](/etc/passwd) ![f](data:image/png;base64,AAAA)';
    const html = renderMarkdown(md, { images: images(['plot.png']) });
    expect(html.match(/<img /g)).toHaveLength(2);
    expect(html).toContain('src="/api/v1/runs/r/tasks/t/outputs/file?path=plot.png"');
    expect(html).not.toMatch(/evil|passwd|data:/);
    expect(renderMarkdown('![a](plot.png)')).not.toContain('<img');
  });

  it('resolves image references against the document directory, never above the output directory', () => {
    expect(resolveRelative('reports', 'fig.png')).toBe('reports/fig.png');
    expect(resolveRelative('reports', '../fig.png')).toBe('fig.png');
    expect(resolveRelative('', '../fig.png')).toBeNull();
    expect(resolveRelative('', 'a%2Fb.png')).toBe('a/b.png');
    expect(resolveRelative('', 'http://x/y.png')).toBeNull();
    expect(resolveRelative('', '//x/y.png')).toBeNull();
  });
});
