// The teaching page in a real browser: `node cli/explain.js sepbn --serve` and a headless Chromium
// with WebGPU on (SwiftShader, where there is no GPU). The page must compute the SepBN walkthrough on
// the browser's WebGPU and show exactly what `node cli/explain.js sepbn --json` gives for the same
// settings (to f32 rounding; the finite differences, Float64 on the CPU in both, to the last digits);
// moving the temperature must change the attention as a = softmax(z / T) says; without WebGPU the
// page must say so and still compute; the landmark panel must draw a checkpoint's 98 points for a
// face, as the same network gives them in Node. It saves a screenshot (docs/explain-page.png is one).
// Without Chromium the test fails saying what to install: it is never skipped.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Page } from 'puppeteer-core';
import { tensor } from '../../engine/create.ts';
import { maxRelativeError } from '../../engine/gradcheck.ts';
import { scope } from '../../engine/scope.ts';
import { noGrad } from '../../engine/tensor.ts';
import { augmentSample, NO_AUGMENTATION } from '../../data/augment.ts';
import { decodeImage } from '../../data/image-io.ts';
import { saveCheckpoint } from '../../models/checkpoint.ts';
import { defaultConfig, INPUT_SIZE, LANDMARKS, VanillaCnn } from '../../models/vanilla-cnn.ts';
import { runCommand } from './run-command.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];
/** WebGPU in headless Chromium on Linux; SwiftShader stands in where there is no GPU. */
const CHROMIUM_ARGS = ['--no-sandbox', '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--ignore-gpu-blocklist'];
/** The page's WebGPU values against the CLI's Float64 CPU ones, relative to each tensor's largest value. */
const F32_TOLERANCE = 2e-5;
/**
 * The finite differences run on the Float64 CPU backend on both sides, but in two JavaScript
 * engines whose Math.exp may differ in the last bit, and a central difference at eps 1e-6 divides
 * such a difference in L by 2e-6.
 */
const FINITE_DIFFERENCE_TOLERANCE = 1e-7;
/** The same Float64 computation (the CPU reference) on both sides, away from finite differences. */
const FLOAT64_TOLERANCE = 1e-12;
const PAGE_TIMEOUT_MS = 180_000;

interface Json {
  steps: Array<{ phase: string; name: string; shape: number[]; values: number[]; finiteDifference?: number[] }>;
  fused: Array<{ name: string; shape: number[]; fused: number[]; composite: number[] }>;
}

interface Shown {
  steps: Array<{ phase: string; name: string; shape: string; values: number[]; finiteDifference: number[] }>;
  fused: Array<{ name: string; shape: string; fused: number[]; composite: number[] }>;
}

interface Settings {
  temperature: number;
  K: number;
  groups: number;
  seed: number;
  input?: number[];
}

const executable = process.env.SEPBN_CHROMIUM ?? CHROMIUM_PATHS.find((p) => existsSync(p));
if (!executable || !existsSync(executable)) {
  t.fail(
    `no Chromium to test the teaching page in (looked for ${process.env.SEPBN_CHROMIUM ?? CHROMIUM_PATHS.join(', ')}): ` +
      'install it (Debian/Ubuntu: apt-get install chromium; .ci/run does) or set SEPBN_CHROMIUM to a Chrome or Chromium binary',
  );
} else {
  t.test('the teaching page in Chromium', (t) => pageTests(t, executable));
}

function cliJson(settings: Partial<Settings>): Json {
  const flags: string[] = [];
  if (settings.temperature !== undefined) flags.push('--temperature', String(settings.temperature));
  if (settings.K !== undefined) flags.push('--k', String(settings.K));
  if (settings.groups !== undefined) flags.push('--groups', String(settings.groups));
  if (settings.seed !== undefined) flags.push('--seed', String(settings.seed));
  if (settings.input !== undefined) flags.push('--input', settings.input.join(','));
  const run = runCommand(['cli/explain.js', 'sepbn', '--json', ...flags]);
  if (run.status !== 0) throw new Error(`explain --json ${flags.join(' ')} failed: ${run.stderr}`);
  return JSON.parse(run.stdout);
}

async function startServer(t: Test): Promise<string> {
  const server = spawn(process.execPath, ['cli/explain.js', 'sepbn', '--serve', '--port', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void server.kill('SIGTERM'));
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    server.stdout.on('data', (chunk: Buffer) => {
      out += chunk;
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    server.stderr.on('data', (chunk: Buffer) => (err += chunk));
    server.on('exit', (code) => reject(new Error(`the page server exited (${code}) before printing its URL: ${err}`)));
  });
}

/** Waits until the walkthrough shows numbers for `settings` (any, when undefined); fails on an error. */
async function walkDone(page: Page, settings?: Settings): Promise<void> {
  await page.waitForFunction(
    (expected) => {
      const status = document.getElementById('walk-status')!;
      if (status.dataset.state === 'error') return true;
      return status.dataset.state === 'done' && (expected === null || status.dataset.settings === expected);
    },
    { timeout: PAGE_TIMEOUT_MS },
    settings ? JSON.stringify(settings) : null,
  );
  const status = await page.$eval('#walk-status', (e) => ({ state: (e as HTMLElement).dataset.state, text: e.textContent }));
  if (status.state !== 'done') throw new Error(`the page's walkthrough failed: ${status.text}`);
}

/** Every number the walkthrough panel shows, read back from its cells. */
function shown(page: Page): Promise<Shown> {
  return page.evaluate(() => {
    const read = (card: Element, kind: string) => [...card.querySelectorAll(`.view[data-kind="${kind}"] td[data-value]`)].map((td) => Number((td as HTMLElement).dataset.value));
    const cards = (selector: string) => [...document.querySelectorAll(selector)] as HTMLElement[];
    return {
      steps: cards('#steps section.step').map((card) => ({
        phase: card.dataset.phase!,
        name: card.dataset.name!,
        shape: card.dataset.shape!,
        values: read(card, 'values'),
        finiteDifference: read(card, 'finite-difference'),
      })),
      fused: cards('#steps section.fused').map((card) => ({ name: card.dataset.name!, shape: card.dataset.shape!, fused: read(card, 'fused'), composite: read(card, 'composite') })),
    };
  });
}

function step(view: Shown, name: string): number[] {
  const found = view.steps.find((s) => s.name === name);
  if (!found) throw new Error(`the page shows no ${name}`);
  return found.values;
}

/** Every tensor of the page against the CLI's JSON; one assertion per kind, listing what differs. */
function sameAsCli(t: Test, page: Shown, cli: Json, label: string, tolerance = F32_TOLERANCE): void {
  t.same(page.steps.map((s) => `${s.phase} ${s.name} [${s.shape}]`), cli.steps.map((s) => `${s.phase} ${s.name} [${s.shape.join(',')}]`), `${label}: the same tensors in the same order`);
  t.same(page.fused.map((f) => f.name), cli.fused.map((f) => f.name), `${label}: the same fused-against-composite pairs`);
  const worst = { values: 0, finiteDifference: 0 };
  const problems: string[] = [];
  const compare = (what: string, got: number[], want: number[] | undefined, limit: number, kind: keyof typeof worst) => {
    if (!want || got.length !== want.length) return problems.push(`${what}: ${got.length} values shown, ${want?.length} from the CLI`);
    const relative = maxRelativeError(got, want);
    worst[kind] = Math.max(worst[kind], relative);
    if (!(relative <= limit)) problems.push(`${what}: relative ${relative.toExponential(2)} > ${limit}`);
  };
  page.steps.forEach((s, i) => {
    const want = cli.steps[i];
    if (!want) return;
    compare(s.name, s.values, want.values, tolerance, 'values');
    if (s.phase === 'backward') compare(`${s.name} by finite differences`, s.finiteDifference, want.finiteDifference, FINITE_DIFFERENCE_TOLERANCE, 'finiteDifference');
  });
  page.fused.forEach((f, i) => {
    compare(`fused ${f.name}`, f.fused, cli.fused[i]?.fused, tolerance, 'values');
    compare(`composite ${f.name}`, f.composite, cli.fused[i]?.composite, tolerance, 'values');
  });
  t.same(problems, [], `${label}: every value shown equals the CLI's (worst relative: ${worst.values.toExponential(2)}; finite differences ${worst.finiteDifference.toExponential(2)})`);
}

/** a[n, g, :] = softmax(z[n, g, :] / T), row by row. */
function softmaxRows(z: number[], K: number, T: number): number[] {
  const a: number[] = [];
  for (let row = 0; row < z.length; row += K) {
    const logits = z.slice(row, row + K).map((v) => v / T);
    const top = Math.max(...logits);
    const e = logits.map((v) => Math.exp(v - top));
    const total = e.reduce((s, v) => s + v, 0);
    a.push(...e.map((v) => v / total));
  }
  return a;
}

/** The backward pass at T = 5, the derivation's equations for it beside the gradients and their checks. */
async function screenshot(t: Test, page: Page): Promise<void> {
  await page.evaluate(() => {
    document.querySelector('#steps [data-phase="backward"]')!.scrollIntoView();
    const derivation = document.getElementById('derivation')!;
    const heading = [...derivation.querySelectorAll('h2')].find((h) => h.textContent === 'The backward pass');
    if (heading) derivation.scrollTop += heading.getBoundingClientRect().top - derivation.getBoundingClientRect().top;
  });
  const file = join(tmpdir(), 'sepbn-explain-page.png');
  await page.screenshot({ path: file });
  t.comment(`screenshot: ${file}`);
}

async function setControls(page: Page, settings: Settings): Promise<void> {
  await page.evaluate((s) => {
    const set = (id: string, value: string, event: string) => {
      const e = document.getElementById(id) as HTMLInputElement;
      e.value = value;
      e.dispatchEvent(new Event(event));
    };
    set('k', String(s.K), 'change');
    set('groups', String(s.groups), 'change');
    set('seed', String(s.seed), 'change');
    if (s.input) set('input', s.input.join(' '), 'change');
    set('temperature', String(s.temperature), 'input');
  }, settings);
}

async function pageTests(t: Test, chromium: string): Promise<void> {
  const url = await startServer(t);
  const browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: CHROMIUM_ARGS });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  await page.setViewport({ width: 1600, height: 900 });
  const requested: string[] = [];
  page.on('request', (r) => void requested.push(new URL(r.url()).pathname));
  const errors: string[] = [];
  page.on('pageerror', (e) => void errors.push((e as Error).message));
  await page.goto(url);
  await walkDone(page);

  const adapter = await page.$eval('#adapter', (e) => ({ backend: (e as HTMLElement).dataset.backend, text: e.textContent! }));
  t.equal(adapter.backend, 'webgpu', `the page computes on WebGPU: ${adapter.text}`);
  t.match(adapter.text, /^WebGPU adapter: .+; kernel plan: /, 'and names the adapter and the kernel plan');
  t.ok(await page.$eval('#no-webgpu', (e) => (e as HTMLElement).hidden), 'no missing-WebGPU warning');
  t.ok((await page.$$('#derivation h2')).length >= 3 && (await page.$$('#derivation pre')).length >= 5, 'the derivation is rendered beside the numbers');

  const defaults = await shown(page);
  sameAsCli(t, defaults, cliJson({}), 'default settings');
  t.same(
    defaults.steps.filter((s) => s.phase === 'forward').map((s) => s.name),
    ['p', 'u', 'v', 'z', 'a', 'gamma_nc', 'beta_nc', 'mu', 'xc', 'var', 'invstd', 'xhat', 'y', 'L'],
    "the forward intermediates in the derivation's order and names",
  );

  // The temperature: z does not depend on it, a = softmax(z / T) does, and a flattens as T grows.
  const hotter: Settings = { temperature: 5, K: 3, groups: 1, seed: 1 };
  await setControls(page, hotter);
  await walkDone(page, hotter);
  const warm = await shown(page);
  const [z, a, zHot, aHot] = [step(defaults, 'z'), step(defaults, 'a'), step(warm, 'z'), step(warm, 'a')];
  t.ok(maxRelativeError(zHot, z) < F32_TOLERANCE, 'z is the same at T = 5');
  t.ok(maxRelativeError(aHot, softmaxRows(zHot, 3, 5)) < 1e-5, 'a = softmax(z / 5) at T = 5');
  t.ok(maxRelativeError(a, softmaxRows(z, 3, 2)) < 1e-5, 'a = softmax(z / 2) at T = 2');
  for (let n = 0; n < 2; n++) t.ok(Math.max(...aHot.slice(3 * n, 3 * n + 3)) < Math.max(...a.slice(3 * n, 3 * n + 3)), `sample ${n}: a flatter attention at the higher temperature`);
  sameAsCli(t, warm, cliJson(hotter), 'T = 5');
  await screenshot(t, page);

  // Every control at once, the input x typed in.
  const input = Array.from({ length: 72 }, (_, i) => Math.round(Math.sin(i * 1.7) * 2000) / 1000);
  const custom: Settings = { temperature: 0.7, K: 2, groups: 2, seed: 7, input };
  await setControls(page, custom);
  await walkDone(page, custom);
  const typed = await shown(page);
  t.same(step(typed, 'x'), input.map(Math.fround), 'the typed input is the x shown');
  t.same(typed.steps.find((s) => s.name === 'a')!.shape, '2,2,2', 'a has one attention per sample and group');
  sameAsCli(t, typed, cliJson(custom), 'T = 0.7, K = 2, groups = 2, seed 7, typed x');

  await landmarkPanel(t, page, url);

  t.same(errors, [], 'no uncaught error in the page');
  t.notOk(requested.some((p) => p.endsWith('/engine/platform/node.js')), "the page never requests Node's platform");
  await page.close();

  await withoutWebGpu(t, await browser.newPage(), url);
}

/** The same page where the browser offers no navigator.gpu: it says so, and computes on the CPU reference. */
async function withoutWebGpu(t: Test, page: Page, url: string): Promise<void> {
  await page.evaluateOnNewDocument(() => {
    delete (Navigator.prototype as { gpu?: unknown }).gpu;
  });
  await page.goto(url);
  await walkDone(page);
  const warning = await page.$eval('#no-webgpu', (e) => ({ hidden: (e as HTMLElement).hidden, text: e.textContent! }));
  t.notOk(warning.hidden, 'a missing WebGPU is announced');
  t.match(warning.text, /No WebGPU adapter was found \(this browser offers no navigator\.gpu\)\. This page runs its kernels on the browser's WebGPU/, 'saying what is missing and what to do');
  t.equal(await page.$eval('#adapter', (e) => (e as HTMLElement).dataset.backend), 'cpu', 'and that it computes on the CPU reference');
  sameAsCli(t, await shown(page), cliJson({}), 'no WebGPU, CPU reference', FLOAT64_TOLERANCE);
  await page.close();
}

/**
 * A tiny SepBN network (width 1/64) saved as training saves it, loaded through the file picker, on a
 * synthetic face: 98 points drawn, and they and each SepBN layer's attention are what the same
 * network gives in Node (Float64 on the CPU) for the same pixels.
 */
async function landmarkPanel(t: Test, page: Page, url: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sepbn-explain-page-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const model = new VanillaCnn(defaultConfig('sepbn', 64, 3));
  const temperature = 1.5;
  model.temperature = temperature;
  const checkpoint = join(dir, 'last.safetensors');
  await saveCheckpoint(checkpoint, model, undefined, { epoch: 1, batchInEpoch: 0, step: 1, temperature, epochLoss: { sum: 0, count: 0 }, run: {} });

  const checkpointInput = await page.$('input#checkpoint');
  await checkpointInput!.uploadFile(checkpoint);
  await page.waitForFunction(() => / loaded; now a face$|^error/.test(document.getElementById('landmark-status')!.textContent!), { timeout: PAGE_TIMEOUT_MS });
  await page.$eval('#face-seed', (e) => ((e as HTMLInputElement).value = '4'));
  await page.click('#synthetic');
  await page.waitForFunction(() => ['done', 'error'].includes(document.getElementById('landmark-status')!.dataset.state!), { timeout: PAGE_TIMEOUT_MS });
  const status = await page.$eval('#landmark-status', (e) => ({ state: (e as HTMLElement).dataset.state, text: e.textContent! }));
  t.equal(status.state, 'done', `the landmark panel: ${status.text}`);
  const points = await page.$$eval('#face-view circle.landmark', (circles) => circles.map((c) => [Number(c.getAttribute('cx')), Number(c.getAttribute('cy'))]));
  t.equal(points.length, LANDMARKS, 'it draws 98 landmarks');
  const layers = await page.$$eval('#attention .layer', (blocks) => blocks.map((b) => ({ name: (b as HTMLElement).dataset.name!, values: JSON.parse((b as HTMLElement).dataset.values!) as number[] })));
  t.same(layers.map((l) => l.name), ['bn1', 'bn2', 'bn3', 'bn4', 'bn5', 'bn6'], "and each SepBN layer's attention");

  // The same face and network in Node.
  const png = new Uint8Array(await (await fetch(`${url}synthetic-face.png?seed=4`)).arrayBuffer());
  const images = new Float32Array(3 * INPUT_SIZE * INPUT_SIZE);
  augmentSample(decodeImage(png), new Float32Array(2 * LANDMARKS), NO_AUGMENTATION, images, 0, new Float32Array(2 * LANDMARKS), 0);
  model.eval();
  const expected = await scope(() =>
    noGrad(async () => {
      const landmarks = await model.forward(tensor(images, [1, 3, INPUT_SIZE, INPUT_SIZE])).toArray();
      const attention = [];
      for (const layer of model.sepBnLayers) attention.push(Array.from(await layer.lastAttention!.toArray()));
      return { landmarks: Array.from(landmarks), attention };
    }),
  );
  const relative = maxRelativeError(points.flat(), expected.landmarks);
  t.ok(relative < 1e-4, `the landmarks are the network's in Node (relative ${relative.toExponential(2)})`);
  const attention = Math.max(...layers.map((l, i) => maxRelativeError(l.values, expected.attention[i])));
  t.ok(attention < 1e-4, `and so is the attention (relative ${attention.toExponential(2)})`);
  for (const l of layers) {
    const total = l.values.reduce((s, v) => s + v, 0);
    if (Math.abs(total - 1) > 1e-5) t.fail(`${l.name}: the attention sums to ${total}, not 1`);
  }
}
