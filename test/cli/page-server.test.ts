// The teaching page's server: the page at /, the kernels' index by name, synthetic faces, and
// nothing outside the folders it serves.
import t from 'tap';
import { get } from 'node:http';
import { servePage } from '../../cli/page-server.ts';
import { indexShaders } from '../../engine/platform/shader-files.ts';

const server = await servePage(0);
t.teardown(() => server.close());

/** A GET with the path sent exactly as given (fetch would resolve the "..", a hostile client need not). */
function raw(path: string): Promise<{ status: number; type: string; location?: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get(new URL(server.url), { path }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (c: Buffer) => chunks.push(c));
      response.on('end', () => resolve({ status: response.statusCode!, type: String(response.headers['content-type']), location: response.headers.location, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

t.test('the page and its modules', async (t) => {
  t.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const root = await raw('/?SEPBN_KERNEL_PLAN=naive');
  t.same([root.status, root.location], [302, '/cli/explain-page/?SEPBN_KERNEL_PLAN=naive'], '/ leads to the page, its switches kept');
  const page = await raw('/cli/explain-page/');
  t.same([page.status, page.type], [200, 'text/html; charset=utf-8']);
  t.match(page.body.toString(), /<script type="module" src="main\.js">/);
  const module = await raw('/engine/ops/sep-batch-norm/walkthrough.js');
  t.same([module.status, module.type], [200, 'text/javascript; charset=utf-8'], 'an engine module, as a module');
  t.equal((await raw('/engine/ops/sep-batch-norm/derivation.md')).status, 200, 'the derivation');
});

t.test('the kernels by name', async (t) => {
  const index = JSON.parse((await raw('/shaders/index.json')).body.toString()) as Record<string, string>;
  t.same(Object.keys(index).sort(), [...indexShaders().keys()].sort(), 'every kernel');
  t.equal(index.conv2d_forward_narrow, 'conv2d/software/conv2d_forward_narrow.wgsl', 'with its path under shaders/');
  const text = await raw(`/shaders/${index.softmax}`);
  t.match(text.body.toString(), /@compute/, 'and the file is there');
});

t.test('synthetic faces', async (t) => {
  const face = await raw('/synthetic-face.png?seed=3');
  t.same([face.status, face.type], [200, 'image/png']);
  t.same([face.body.readUInt32BE(16), face.body.readUInt32BE(20)], [256, 256], 'a 256x256 crop');
  t.equal((await raw('/synthetic-face.png?seed=3')).body.compare(face.body), 0, 'the same face for the same seed');
  t.equal((await raw('/synthetic-face.png?seed=x')).status, 400, 'a bad seed is refused');
});

t.test('nothing else', async (t) => {
  for (const path of ['/package.json', '/engine/../package.json', '/engine/%2e%2e/package.json', '/data/loader.js', '/engine/../../etc/passwd', '/runs/x.safetensors']) {
    const response = await raw(path);
    t.equal(response.status, 404, `${path}: ${response.body.toString().trim()}`);
  }
  t.equal((await raw('/cli/explain-page/nothing.js')).status, 404, 'a missing file');
});
