// On a machine with no Vulkan driver (hidden here for one process), a command given no --backend
// says so in one line and runs on the CPU reference; --backend webgpu and the benchmarks still
// fail with the install paragraph.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sepbn-cpu-fallback-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const data = join(dir, 'faces256');

// VK_DRIVER_FILES would win over VK_ICD_FILENAMES, so it is dropped.
const { VK_DRIVER_FILES: _driverFiles, ...inherited } = process.env;
const noDriver = { ...inherited, VK_ICD_FILENAMES: '/nonexistent' };

function node(args: string[], env: NodeJS.ProcessEnv = process.env) {
  return spawnSync(process.execPath, args, { cwd: root, env, encoding: 'utf8' });
}

t.before(() => {
  const synth = node(['cli/synth.js', '--out', join(dir, 'raw'), '--count', '8', '--seed', '4', '--size', '96']);
  if (synth.status !== 0) throw new Error(synth.stderr);
  const prepared = node(['cli/prepare.js', '--wflw', join(dir, 'raw'), '--out', data]);
  if (prepared.status !== 0) throw new Error(prepared.stderr);
});

const trainArgs = (out: string) => ['cli/train.js', '--data', data, '--epochs', '1', '--max-batches', '2', '--batch', '2', '--width', '64', '--workers', '1', '--out', out];

t.test('train without --backend falls back to the CPU with a notice', async (t) => {
  const out = join(dir, 'fallback');
  const run = node(trainArgs(out), noDriver);
  t.equal(run.status, 0, run.stderr);
  const notice = run.stderr.split('\n').find((l) => l.startsWith('notice:'));
  t.ok(notice, 'one notice line');
  t.match(notice, /no WebGPU adapter \(none of the Vulkan driver files in VK_ICD_FILENAMES exist: \/nonexistent\)/, 'what was missing');
  t.match(notice, /CPU reference instead, several times slower/);
  t.match(notice, /apt-get install libvulkan1 mesa-vulkan-drivers/, 'the install hint');
  t.notMatch(run.stderr, /This program runs its kernels through Dawn/, 'not the whole paragraph');
  t.match(run.stderr, /training sepbn width 1\/64 on cpu/);
  t.equal(readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').length, 1, 'one epoch logged');
  t.ok(existsSync(join(out, 'last.safetensors')));
});

t.test('--backend webgpu without a driver still fails with the install paragraph', async (t) => {
  const out = join(dir, 'explicit');
  const run = node([...trainArgs(out), '--backend', 'webgpu'], noDriver);
  t.equal(run.status, 1);
  t.match(run.stderr, /No WebGPU adapter was found/);
  t.match(run.stderr, /mesa-vulkan-drivers/);
  t.notMatch(run.stderr, /notice:/);
  t.notOk(existsSync(join(out, 'log.jsonl')), 'nothing trained');
});

for (const args of [['cli/bench.js', 'train', '--width', '64'], ['cli/gradcheck.js', '--op', 'abs']]) {
  t.test(`node ${args.join(' ')} refuses the CPU fallback`, async (t) => {
    const run = node(args, noDriver);
    t.equal(run.status, 1);
    t.match(run.stderr, /No WebGPU adapter was found/);
    t.notMatch(run.stderr, /notice:/);
  });
}

t.test('--help says what the default backend does', async (t) => {
  const run = node(['cli/train.js', '--help'], noDriver);
  t.equal(run.status, 0);
  t.match(run.stdout, /--backend webgpu\|cpu\s+.*\(default: webgpu, or cpu with a notice when there is no WebGPU adapter\)/);
});
