// The package as another project gets it: `npm pack`, then `npm install` of the tarball into an
// empty folder, where a ten-line script imports `sepbn-webgpu`, runs a SepBN layer forward and
// backward on WebGPU and prints a gradient (the shaders found inside the installed package), a
// TypeScript file type-checks against the emitted .d.ts, and `npx sepbn-train --help` prints the
// train command's help. The install reads npm's local cache first (`--offline`, filled by this
// checkout's own `npm install`) and only then the registry; it takes about 10 s, most of it
// unpacking Dawn's binaries.
import t from 'tap';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { maxRelativeError } from '../engine/gradcheck.ts';
import { gpuSkipped } from './gpu.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'sepbn-package-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
const app = join(scratch, 'app');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };

// `npm test` hands its children npm's settings as npm_* variables, and npm_config_local_prefix
// would point the install below back at this checkout: the child npm gets only the ones that say
// where the cache and the registry are.
const KEPT_NPM_SETTINGS = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig', 'npm_config_globalconfig', 'npm_config_cafile']);
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_') || KEPT_NPM_SETTINGS.has(k.toLowerCase())));

function run(command: string, args: string[], options: SpawnSyncOptions = {}) {
  const r = spawnSync(command, args, { env, encoding: 'utf8', timeout: 300_000, ...options });
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr).split('\n').filter((l) => !l.startsWith('Warning:')).join('\n') };
}

// Ten lines: a SepBN layer (K=2 sets, an attention MLP 4 -> 1 -> 2) forward and backward, printing dloss/dgamma_0.
const script = (backend: string) => `import { useBackend, shutdown, normal, sepBatchNormTrain, mul, sum, backward } from 'sepbn-webgpu';
await useBackend('${backend}');
const p = (shape, seed, mean = 0) => normal(shape, { seed, mean, std: 0.5, requiresGrad: true });
const x = p([2, 4, 3, 3], 1);
const w = { gammas: [p([4], 2, 1), p([4], 3, 1)], betas: [p([4], 4), p([4], 5)], fc1: p([1, 4, 1, 1], 6), fc2: p([2, 1, 1, 1], 7) };
const { y } = sepBatchNormTrain(x, w, { groups: 1, temperature: 2 });
backward(sum(mul(y, y)));
console.log(JSON.stringify(Array.from(await w.gammas[0].grad.toArray())));
shutdown();
`;

// A consumer's TypeScript: the front doors' types resolve, and they are real types, not any.
const typeCheck = `import { tensor, backward, type Tensor } from 'sepbn-webgpu';
import { SepBatchNorm2d } from 'sepbn-webgpu/nn';
import { loadWeights, type VanillaCnnConfig } from 'sepbn-webgpu/models';
import { nmePerImage } from 'sepbn-webgpu/data';
const x: Tensor = tensor([1, 2], [2], { requiresGrad: true });
backward(x, { grad: tensor([1, 1], [2]) });
export const used = [SepBatchNorm2d, loadWeights, nmePerImage];
export const norm: VanillaCnnConfig['norm'] = 'sepbn';
// @ts-expect-error a shape is a list of numbers
tensor([1], 'one');
`;

let tarball = '';
let packed: string[] = [];

t.before(() => {
  const pack = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', scratch], { cwd: root });
  if (pack.status !== 0) throw new Error(`npm pack failed: ${pack.stderr}`);
  const [report] = JSON.parse(pack.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = join(scratch, report.filename);
  packed = report.files.map((f) => f.path);
});

t.test('the tarball holds what a user needs and nothing else', async (t) => {
  for (const door of ['engine', 'nn', 'models', 'data']) {
    t.ok(packed.includes(`${door}/index.js`) && packed.includes(`${door}/index.d.ts`), `${door}/index.js with its types`);
  }
  const shaders = (readdirSync(join(root, 'shaders'), { recursive: true }) as string[]).filter((f) => f.endsWith('.wgsl'));
  t.ok(shaders.length > 0 && shaders.every((f) => packed.includes(`shaders/${f}`)), `all ${shaders.length} shaders`);
  // What the code reads beside itself at run time: the landmark topology, and the teaching page of `sepbn-explain sepbn --serve`.
  const assets = ['data/wflw-topology.json', 'cli/explain-page/index.html', 'cli/explain-page/style.css', 'engine/ops/sep-batch-norm/derivation.md'];
  for (const file of [...assets, 'README.md', 'LICENSE', 'package.json']) t.ok(packed.includes(file), file);
  t.same(packed.filter((f) => f.startsWith('test/')), [], 'no tests');
  t.same(packed.filter((f) => /(?<!\.d)\.ts$|\.map$/.test(f)), [], 'no TypeScript sources or source maps');
});

t.test('every command is a bin entry that starts with a shebang', async (t) => {
  const commands = readdirSync(join(root, 'cli'))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && f !== 'args.ts')
    .filter((f) => readFileSync(join(root, 'cli', f), 'utf8').includes('parseCommand('))
    .map((f) => `cli/${f.replace(/\.ts$/, '.js')}`);
  t.same(commands.filter((c) => !Object.values(manifest.bin).includes(c)), [], 'each command (a cli/ file that parses a command line) has a bin name');
  for (const [name, file] of Object.entries(manifest.bin)) {
    t.ok(packed.includes(file), `${name}: ${file} is in the tarball`);
    const path = join(root, file);
    t.match(existsSync(path) ? readFileSync(path, 'utf8') : '', /^#!\/usr\/bin\/env node\n/, `${name}: ${file} starts with #!/usr/bin/env node`);
  }
});

t.test('installed into an empty folder, it runs there', async (t) => {
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), '{ "name": "sepbn-package-check", "private": true, "type": "module" }\n');
  const started = performance.now();
  const flags = ['--no-audit', '--no-fund'];
  let install = run('npm', ['install', tarball, '--offline', ...flags], { cwd: app });
  // A cache without every dependency (a fresh machine whose install came from elsewhere) takes what it lacks from the registry.
  if (install.status !== 0) install = run('npm', ['install', tarball, '--prefer-offline', ...flags], { cwd: app });
  t.equal(install.status, 0, `npm install of the tarball (${((performance.now() - started) / 1000).toFixed(0)} s)`, { stderr: install.stderr });
  if (install.status !== 0) return;

  writeFileSync(join(app, 'cpu.mjs'), script('cpu'));
  const onCpu = run(process.execPath, ['cpu.mjs'], { cwd: app });
  t.equal(onCpu.status, 0, 'the ten-line SepBN script runs on the CPU reference', { stderr: onCpu.stderr });
  const want = JSON.parse(onCpu.stdout) as number[];
  t.ok(want.length === 4 && want.every((v) => Number.isFinite(v) && v !== 0), `and prints dloss/dgamma_0: ${onCpu.stdout.trim()}`);
  if (!gpuSkipped(t)) {
    writeFileSync(join(app, 'webgpu.mjs'), script('webgpu'));
    const onGpu = run(process.execPath, ['webgpu.mjs'], { cwd: app });
    t.equal(onGpu.status, 0, 'it runs on WebGPU, the shaders found in the installed package', { stderr: onGpu.stderr });
    if (onGpu.status === 0) t.ok(maxRelativeError(JSON.parse(onGpu.stdout), want) < 1e-5, `with the CPU's gradient: ${onGpu.stdout.trim()}`);
  }

  const help = run('npx', ['sepbn-train', '--help'], { cwd: app });
  t.equal(help.status, 0, 'npx sepbn-train --help', { stderr: help.stderr });
  t.match(help.stdout, /^usage: .*train.*\n[\s\S]*--epochs/, "prints the train command's help");

  writeFileSync(join(app, 'check.ts'), typeCheck);
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, types: [] },
    files: ['check.ts'],
  }));
  const tsc = run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', app], { cwd: app });
  t.equal(tsc.status, 0, 'a TypeScript file type-checks against the installed .d.ts', { stdout: tsc.stdout });
});
