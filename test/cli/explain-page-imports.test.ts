// The teaching page's module graph, as a browser loads it from the emitted .js: from the page's
// entry, every static import is relative (no node:*, no `webgpu` or other package a browser cannot
// resolve), lies in a folder the page server serves, and no module refers to Node's globals. The
// one dynamic import is the platform's fallback to Node's side, which the browser test shows the
// page never requests.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('../../', import.meta.url));
const entry = resolve(root, 'cli/explain-page/main.js');
/** What cli/page-server.ts serves. */
const SERVED = ['cli/explain-page/', 'engine/', 'nn/', 'models/'];
const NODE_GLOBALS = new Set(['process', 'Buffer', 'require', '__dirname', '__filename', 'global']);
/** The platform's fallback for Node, loaded only where no platform was installed (platform.ts). */
const NODE_FALLBACK = ['engine/platform/platform.js', './node.js'];

interface ModuleFacts {
  staticImports: string[];
  dynamicImports: string[];
  nodeGlobals: string[];
}

function facts(file: string): ModuleFacts {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const found: ModuleFacts = { staticImports: [], dynamicImports: [], nodeGlobals: [] };
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.staticImports.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [specifier] = node.arguments;
      found.dynamicImports.push(specifier && ts.isStringLiteral(specifier) ? specifier.text : `(computed: ${specifier?.getText(source)})`);
    } else if (ts.isIdentifier(node) && NODE_GLOBALS.has(node.text)) {
      // A free reference, not a property name (x.process) or a declaration's own name.
      const parent = node.parent;
      const isPropertyName = (ts.isPropertyAccessExpression(parent) && parent.name === node) || (ts.isPropertyAssignment(parent) && parent.name === node);
      if (!isPropertyName) found.nodeGlobals.push(`${node.text} at line ${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const inRepo = (file: string) => relative(root, file).split(sep).join('/');

t.test('the page imports nothing a browser cannot load', async (t) => {
  const seen = new Map<string, ModuleFacts>();
  const queue = [entry];
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    const f = facts(file);
    seen.set(file, f);
    for (const specifier of f.staticImports) if (specifier.startsWith('.')) queue.push(resolve(dirname(file), specifier));
  }
  const modules = [...seen.keys()].map(inRepo);
  t.ok(modules.includes('engine/ops/sep-batch-norm/walkthrough.js') && modules.includes('models/vanilla-cnn.js') && modules.includes('engine/platform/browser.js'), `the graph reaches the engine, the model and the browser platform (${modules.length} modules)`);
  const bare = [...seen].flatMap(([file, f]) => f.staticImports.filter((s) => !s.startsWith('.')).map((s) => `${inRepo(file)} imports "${s}"`));
  t.same(bare, [], 'every static import is relative: no node:* built-in, no package');
  t.same(modules.filter((m) => !SERVED.some((folder) => m.startsWith(folder))), [], 'every module lies in a folder the page server serves');
  t.notOk(modules.includes('engine/platform/node.js') || modules.includes('engine/platform/shader-files.js'), "Node's platform is not on the static graph");
  const globals = [...seen].flatMap(([file, f]) => f.nodeGlobals.map((g) => `${inRepo(file)}: ${g}`));
  t.same(globals, [], "no module refers to Node's globals (process, Buffer, require, ...)");
  const dynamic = [...seen].flatMap(([file, f]) => f.dynamicImports.map((s) => [inRepo(file), s]));
  t.same(dynamic, [NODE_FALLBACK], "the one dynamic import is the platform's fallback to Node, never taken once a page installs its platform");
});

t.test('the walk finds what it looks for', async (t) => {
  // The checks above pass on an empty list as well, so the same walk must see Node's side.
  const node = facts(resolve(root, 'engine/platform/node.js'));
  t.ok(node.staticImports.includes('node:fs') && node.staticImports.includes('webgpu'), 'static imports of built-ins and packages');
  t.ok(node.nodeGlobals.some((g) => g.startsWith('process at')), 'free references to process');
  t.same(facts(resolve(root, 'engine/platform/platform.js')).dynamicImports, ['./node.js'], 'dynamic imports');
});
