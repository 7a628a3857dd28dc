// node cli/train.js with the other networks (--model baseline, --model bn) and on the CPU backend:
// each run logs one line per epoch with a finite loss and test NME, its checkpoint records the
// network asked for and holds that network's tensors, and the CPU's first step reproduces the
// WebGPU kernels' loss and test score.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureSyntheticDataset } from '../../data/synthetic-dataset.ts';
import { maxRelativeError } from '../../engine/gradcheck.ts';
import { readSafetensors } from '../../nn/safetensors.ts';
import { gpuSkipped } from '../gpu.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sepbn-train-variants-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const data = ensureSyntheticDataset(dir, { train: 8, test: 4, size: 96, seed: 4 });

/**
 * Two epochs of one step of two faces at width 64 (1..32 channels): seconds on either backend.
 * With one step an epoch, epoch 1's train loss is the loss before any update.
 */
function train(out: string, flags: string[]) {
  const args = ['cli/train.js', '--data', data, '--width', '64', '--batch', '2', '--epochs', '2', '--max-batches', '1', '--workers', '1', '--out', out, ...flags];
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr.split('\n').filter((l) => !l.startsWith('Warning:')).join('\n') };
}

interface LogLine {
  epoch: number;
  train_loss: number;
  test_nme_percent: number;
}

/** Trains, then checks what every run must leave behind; returns the log. */
function trainAndCheck(t: Test, name: string, flags: string[], model: string, norm: string): LogLine[] {
  const out = join(dir, name);
  const run = train(out, flags);
  t.equal(run.status, 0, run.stderr);
  const log = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as LogLine);
  t.same(log.map((l) => l.epoch), [1, 2], 'one log line per epoch');
  for (const line of log) {
    t.ok(Number.isFinite(line.train_loss) && line.train_loss > 0, `epoch ${line.epoch}: train loss ${line.train_loss} is finite`);
    t.ok(Number.isFinite(line.test_nme_percent) && line.test_nme_percent > 0, `epoch ${line.epoch}: test NME ${line.test_nme_percent} is finite`);
  }
  const { tensors, metadata } = readSafetensors(join(out, 'last.safetensors'));
  t.match(JSON.parse(metadata.run), { model, optimizer: 'adam', width: 64, epochs: 2, batch: 2, maxBatches: 1 }, 'the run settings asked for');
  t.match(JSON.parse(metadata.config), { norm, width: 64 }, 'the network asked for');
  t.equal(metadata.epoch, '2');
  t.equal(metadata.step, '2');
  for (const [tensorName, tensor] of tensors) {
    const finite = Array.from(tensor.data as ArrayLike<number | bigint>).every((v) => typeof v === 'bigint' || Number.isFinite(v));
    if (!finite) t.fail(`${tensorName} holds NaN or Inf`);
  }
  t.same(JSON.parse(readFileSync(join(out, 'settings.json'), 'utf8')).modelName, model);
  return log;
}

t.test('--model baseline: no normalisation layers at all', async (t) => {
  if (gpuSkipped(t)) return;
  trainAndCheck(t, 'baseline', ['--model', 'baseline'], 'baseline', 'none');
  const names = [...readSafetensors(join(dir, 'baseline', 'last.safetensors')).tensors.keys()];
  t.same(names.filter((n) => n.startsWith('bn')), [], 'no bn tensors');
  t.same(names.length, 16, 'six convolutions and two linear layers, weight and bias each');
});

t.test('--model bn and --model bn --backend cpu', async (t) => {
  const cpu = trainAndCheck(t, 'bn-cpu', ['--model', 'bn', '--backend', 'cpu'], 'bn', 'bn');
  const names = [...readSafetensors(join(dir, 'bn-cpu', 'last.safetensors')).tensors.keys()];
  t.ok(names.includes('bn1.running_var') && names.includes('bn6.num_batches_tracked'), 'plain BatchNorm buffers');
  t.same(names.filter((n) => /^bn\d\.(bn\.\d|fc[12])\./.test(n)), [], 'no SepBN sets or attention');
  if (gpuSkipped(t)) return;
  const gpu = trainAndCheck(t, 'bn', ['--model', 'bn'], 'bn', 'bn');
  // The same seed draws the same weights and batch on both backends, and epoch 1's single step
  // comes before any update, so its loss and the test score after it (the first step's rate is
  // the warm-up's 1e-10) differ by f32 rounding only.
  t.ok(maxRelativeError([cpu[0].train_loss], [gpu[0].train_loss]) < 1e-5, `first loss: cpu ${cpu[0].train_loss}, webgpu ${gpu[0].train_loss}`);
  t.ok(maxRelativeError([cpu[0].test_nme_percent], [gpu[0].test_nme_percent]) < 1e-5, `epoch 1 test NME: cpu ${cpu[0].test_nme_percent}, webgpu ${gpu[0].test_nme_percent}`);
});
