// node cli/train.js --recipe paper: --help lists the recipe; a short run of it (--epochs 2
// --max-batches 3) trains with the paper's SGD, its per-step warm-up learning rates over the
// 2000-epoch schedule and its temperatures, records them in settings.json, the log and the
// checkpoint, and a resume continues the same schedule. train --init starts from a PyTorch .pth.
// CPU backend, width 1/64, batches of 8: seconds a run.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureSyntheticDataset } from '../../data/synthetic-dataset.ts';
import { readSafetensors } from '../../nn/safetensors.ts';
import { runCommand } from './run-command.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/pth/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sepbn-train-recipe-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
// 24 training faces: three full batches of 8.
const data = ensureSyntheticDataset(dir, { train: 24, test: 4, size: 96, seed: 4 });
const quick = ['--backend', 'cpu', '--workers', '1', '--data', data];
const small = ['--width', '64', ...quick];

const logOf = (out: string) => readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
/** The paper's warm-up: 1e-10 to 1e-3 over 800 epochs, by the fraction of epochs done before the step. */
const warmupLr = (progress: number) => 1e-10 + ((1e-3 - 1e-10) * progress) / 800;

t.test('--help lists the paper recipe', async (t) => {
  const help = runCommand(['cli/train.js', '--help']);
  t.equal(help.status, 0);
  for (const part of [
    '--recipe paper',
    'SGD with momentum 0.9 (--optimizer), learning rate 1e-3 (--lr), weight decay 5e-4 (--weight-decay)',
    '8 images (--batch), the last partial batch of each epoch dropped',
    '2000 (--epochs)',
    'linear warm-up from 1e-10 to 1e-3 over the first 800 epochs (--warmup)',
    'half a cosine down to 1e-10 at epoch 2000 (--schedule-epochs)',
    'attention temperature 30 (--temperature-start), lowered by 1 after each epoch (--temperature-step)',
    'down to 1 (--temperature-end)',
    'L1 on the landmark coordinates in pixels of the 128x128 input',
    '--init CKPT',
  ]) {
    t.ok(help.stdout.includes(part), `lists "${part}"`);
  }
});

const paperRun = join(dir, 'paper');

t.test('--recipe paper --epochs 2 --max-batches 3: the paper\'s optimizer, warm-up and temperatures', async (t) => {
  const run = runCommand(['cli/train.js', '--recipe', 'paper', '--epochs', '2', '--max-batches', '3', '--out', paperRun, ...small]);
  t.equal(run.status, 0, run.stderr);
  t.match(run.stderr, /2 epochs of 3 batches of 8, sgd lr 0\.001 momentum 0\.9 weight decay 0\.0005, warm-up 800 of 2000 schedule epochs/, 'the log shows the optimizer and schedule');
  t.match(run.stderr, /given here instead: --max-batches 3, --epochs 2/, 'and which flags overrode the recipe');
  const settings = JSON.parse(readFileSync(join(paperRun, 'settings.json'), 'utf8'));
  t.match(settings, { recipe: 'paper', optimizer: 'sgd', lr: 1e-3, momentum: 0.9, weightDecay: 5e-4, batch: 8, warmup: 800, scheduleEpochs: 2000, epochs: 2, maxBatches: 3 });
  const log = logOf(paperRun);
  t.same(log.map((l) => l.temperature), [30, 29], 'temperature 30, then 29');
  // Each line's lr is that of the epoch's last step, the third of three: progress e + 2/3.
  log.forEach((line, e) => t.ok(Math.abs(line.lr - warmupLr(e + 2 / 3)) <= 1e-12 * warmupLr(e + 2 / 3), `epoch ${e + 1}: lr ${line.lr} is the warm-up's`));
  const optim = readSafetensors(join(paperRun, 'last.optim.safetensors')).tensors;
  t.ok(optim.has('conv1.weight.momentum_buffer'), 'the optimizer keeps momentum buffers: SGD with momentum');
  t.match(JSON.parse(readSafetensors(join(paperRun, 'last.safetensors')).metadata.run), { recipe: 'paper', scheduleEpochs: 2000 }, 'the checkpoint records the recipe and its schedule');
});

t.test('a resumed recipe run continues on the same 2000-epoch schedule', async (t) => {
  const run = runCommand(['cli/train.js', '--resume', join(paperRun, 'last.safetensors'), '--epochs', '3', '--backend', 'cpu', '--workers', '1']);
  t.equal(run.status, 0, run.stderr);
  const third = logOf(paperRun)[2];
  t.equal(third.temperature, 28);
  t.ok(Math.abs(third.lr - warmupLr(2 + 2 / 3)) <= 1e-12 * warmupLr(2 + 2 / 3), `epoch 3: lr ${third.lr}`);
  const again = runCommand(['cli/train.js', '--resume', join(paperRun, 'last.safetensors'), '--recipe', 'paper', '--backend', 'cpu']);
  t.equal(again.status, 1);
  t.match(again.stderr, /--recipe sets up a new run; a resumed run keeps its checkpoint's settings/);
  const pth = runCommand(['cli/train.js', '--resume', FIXTURES + 'sepbn-w64.pth', '--backend', 'cpu']);
  t.equal(pth.status, 1);
  t.match(pth.stderr, /a PyTorch \.pth holds weights but no run to continue; start a run from them with --init /, 'a .pth is pointed to --init');
});

t.test('--init X.pth starts from PyTorch\'s weights with a fresh optimizer', async (t) => {
  const out = join(dir, 'init');
  const init = FIXTURES + 'sepbn-w64-legacy.pth';
  const run = runCommand(['cli/train.js', '--recipe', 'paper', '--init', init, '--epochs', '1', '--max-batches', '1', '--out', out, ...quick]);
  t.equal(run.status, 0, run.stderr);
  t.match(run.stderr, /--init .*sepbn-w64-legacy\.pth: PyTorch \.pth \(legacy stream\); stripped the "module\." prefix .*; inferred sepbn from .*, width 1\/64 from conv1\.weight/);
  t.match(run.stderr, /starting from the weights of .*sepbn-w64-legacy\.pth, with a fresh optimizer/);
  t.match(JSON.parse(readFileSync(join(out, 'settings.json'), 'utf8')), { init, model: 'sepbn', width: 64 });
  // One step at the warm-up's first rate (1e-10) leaves the weights where PyTorch's file put them.
  const start = readSafetensors(FIXTURES + 'sepbn-w64.safetensors').tensors;
  const after = readSafetensors(join(out, 'last.safetensors')).tensors;
  for (const name of ['conv1.weight', 'bn3.fc1.weight', 'fc2.weight']) {
    const [a, b] = [start.get(name)!.data as Float32Array, after.get(name)!.data as Float32Array];
    t.ok(a.every((v, i) => Math.abs(v - b[i]) < 1e-6), `${name}: PyTorch's values`);
  }
});
