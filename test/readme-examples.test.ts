// Runs every README example so the README cannot drift from the code. An example is a ```js block
// right after an HTML comment `<!-- example: NAME -->`; the next fenced block is a ```text block
// holding what it prints. Each runs as an ES module in an empty folder where `sepbn-webgpu`
// resolves to this checkout (node_modules/sepbn-webgpu is a link to it), as written (WebGPU) and
// with useBackend('cpu') in its place, and must print the README's text with every number equal to
// the digits shown, give or take one in the last: lavapipe's f32 and the CPU's Float64 round alike there.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Random } from '../engine/random.ts';
import { drawSyntheticFace } from '../data/synthetic-face.ts';
import { encodePng } from '../data/image-io.ts';
import { saveCheckpoint } from '../models/checkpoint.ts';
import { buildModel, modelConfig } from '../models/registry.ts';
import { gpuSkipped } from './gpu.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const scratch = mkdtempSync(join(tmpdir(), 'sepbn-readme-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));

interface Example {
  name: string;
  code: string;
  expected: string;
}

function examples(text: string): Example[] {
  const found: Example[] = [];
  const marker = /<!-- example: ([\w-]+) -->\n```js\n([\s\S]*?)```\n/g;
  for (let m = marker.exec(text); m; m = marker.exec(text)) {
    const rest = text.slice(marker.lastIndex);
    const output = /^([\s\S]*?)```text\n([\s\S]*?)```/.exec(rest);
    if (!output || output[1].includes('```')) throw new Error(`README example ${m[1]}: the next fenced block after its code must be a \`\`\`text block with its output`);
    found.push({ name: m[1], code: m[2], expected: output[2] });
  }
  return found;
}

/** Files an example reads, made here: the README shows the calls, not how to produce their inputs. */
const FIXTURES: Record<string, (dir: string) => Promise<void>> = {
  // An untrained 1/16-width SepBN checkpoint where `node cli/train.js` writes its run, and a synthetic face.
  'predict-face': async (dir) => {
    const checkpoint = join(dir, 'runs/sepbn-w16-s1/last.safetensors');
    mkdirSync(dirname(checkpoint), { recursive: true });
    const state = { epoch: 3, batchInEpoch: 0, step: 0, temperature: 28, epochLoss: { sum: 0, count: 0 }, run: {} };
    await saveCheckpoint(checkpoint, buildModel(modelConfig('sepbn', 16, 1)), undefined, state);
    writeFileSync(join(dir, 'face.png'), encodePng(drawSyntheticFace(new Random(1), 160).image));
  },
};

let folders = 0;
/** An empty folder holding the script and its fixtures, where `sepbn-webgpu` is this checkout. */
async function runExample(example: Example, code: string, timeoutMs = 120_000) {
  const dir = join(scratch, `${example.name}-${folders++}`);
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  symlinkSync(root, join(dir, 'node_modules', 'sepbn-webgpu'), 'dir');
  writeFileSync(join(dir, 'package.json'), '{ "type": "module", "private": true }\n');
  await FIXTURES[example.name]?.(dir);
  writeFileSync(join(dir, 'example.mjs'), code);
  return spawnSync(process.execPath, ['example.mjs'], { cwd: dir, encoding: 'utf8', timeout: timeoutMs });
}

const NUMBER = /(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)/i;

/** Where printed and expected differ, or undefined: text alike up to runs of spaces, numbers to one unit in the last digit shown. */
function outputDifference(printed: string, expected: string): string | undefined {
  const a = printed.trim().split(NUMBER);
  const b = expected.trim().split(NUMBER);
  if (a.length !== b.length) return `printed ${(a.length - 1) / 2} numbers, the README shows ${(b.length - 1) / 2}`;
  for (let i = 0; i < b.length; i++) {
    if (i % 2 === 0) {
      if (a[i].replace(/\s+/g, ' ') !== b[i].replace(/\s+/g, ' ')) return `text "${a[i]}" where the README has "${b[i]}"`;
      continue;
    }
    const [, digits, exponent] = /^-?\d+(?:\.(\d+))?(?:e([-+]?\d+))?$/i.exec(b[i])!;
    // An integer (a count, an index, an epoch) must match exactly.
    const unit = digits === undefined && exponent === undefined ? 0 : 10 ** (Number(exponent ?? 0) - (digits?.length ?? 0));
    if (!(Math.abs(Number(a[i]) - Number(b[i])) <= unit * 1.001)) return `${a[i]} where the README has ${b[i]}`;
  }
  return undefined;
}

const found = examples(readme);

t.test('the README marks its examples', async (t) => {
  t.same(found.map((e) => e.name).sort(), ['gradcheck-composite', 'predict-face', 'sepbn-layer'], 'the three examples of "Use it as a library"');
  t.equal(new Set(found.map((e) => e.name)).size, found.length, 'example names are unique');
});

t.test('the output comparison', async (t) => {
  t.equal(outputDifference('x 1.24\ny  [ 2.0e-3 ]', 'x 1.23\ny [ 2.1e-3 ]'), undefined, 'one unit in the last digit, and spacing, pass');
  t.match(outputDifference('x 1.25', 'x 1.23'), /1\.25 where the README has 1\.23/, 'two units fail');
  t.match(outputDifference('epoch 4', 'epoch 3'), /4 where the README has 3/, 'integers are exact');
  t.match(outputDifference('loss 1.0', 'gain 1.0'), /text "loss "/, 'text must match');
  t.match(outputDifference('1 2', '1'), /printed 2 numbers, the README shows 1/);
});

for (const example of found) {
  t.test(`README example ${example.name}`, async (t) => {
    const usesGpu = example.code.includes("useBackend('webgpu')");
    if (usesGpu && !gpuSkipped(t)) {
      const run = await runExample(example, example.code);
      t.equal(run.status, 0, 'runs on WebGPU and exits', { stderr: run.stderr });
      t.equal(outputDifference(run.stdout, example.expected), undefined, 'prints what the README shows, on WebGPU', { stdout: run.stdout });
    }
    const onCpu = example.code.replaceAll("useBackend('webgpu')", "useBackend('cpu')");
    const run = await runExample(example, onCpu);
    const where = usesGpu ? ', on the CPU reference' : '';
    t.equal(run.status, 0, `runs and exits${where}`, { stderr: run.stderr });
    t.equal(outputDifference(run.stdout, example.expected), undefined, `prints what the README shows${where}`, { stdout: run.stdout });
  });
}

t.test('a script that forgets shutdown() still exits', async (t) => {
  if (gpuSkipped(t)) return;
  const example = found.find((e) => e.name === 'sepbn-layer')!;
  const withoutClose = example.code.replace(/^shutdown\(\);\n/m, '');
  t.not(withoutClose, example.code, 'the example closes the backend with one shutdown() line, removed here');
  const started = performance.now();
  const run = await runExample(example, withoutClose, 60_000);
  t.equal(run.signal, null, `exits by itself (not killed after 60 s; took ${((performance.now() - started) / 1000).toFixed(1)} s)`);
  t.equal(run.status, 0, 'with status 0', { stderr: run.stderr });
  t.equal(outputDifference(run.stdout, example.expected), undefined, 'and the same output', { stdout: run.stdout });
});
