// The page's Markdown renderer on the derivation it shows and on the marks it claims to know.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { markdownToHtml } from '../../cli/explain-page/markdown.ts';

t.test('the marks the derivation uses', async (t) => {
  t.equal(markdownToHtml('# How\n\nA `p[n,c]` and **bold** line\ngoes on.'), '<h1>How</h1>\n<p>A <code>p[n,c]</code> and <strong>bold</strong> line goes on.</p>');
  t.equal(markdownToHtml('```\nx < y && **z**\n```'), '<pre><code>x &lt; y &amp;&amp; **z**</code></pre>', 'code blocks are escaped and left unmarked');
  t.equal(markdownToHtml('- one `a<b`\n  continued\n- two'), '<ul><li>one <code>a&lt;b</code> continued</li><li>two</li></ul>', 'a list, an item over two lines');
  t.equal(markdownToHtml('<script>alert(1)</script>'), '<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>', 'HTML in the text is shown, not run');
});

t.test('the derivation renders whole', async (t) => {
  const markdown = readFileSync(new URL('../../engine/ops/sep-batch-norm/derivation.md', import.meta.url), 'utf8');
  const html = markdownToHtml(markdown);
  const count = (text: string, pattern: RegExp) => (text.match(pattern) ?? []).length;
  t.equal(count(html, /<pre>/g), count(markdown, /^```/gm) / 2, 'every code block');
  t.equal(count(html, /<h\d>/g), count(markdown, /^#+ /gm), 'every heading');
  t.match(html, /∂L\/∂z\[n,g,k\] = a\[n,g,k\] · \( d\[n,g,k\] - Σ_j a\[n,g,j\] d\[n,g,j\] \) \/ T/, 'the equations as written');
  t.notMatch(html.replace(/<\/?(h\d|p|pre|code|ul|li|strong)>/g, ''), /[<>]/, 'no tag but the renderer\'s own');
});
