// node cli/train.js --optimizer sgd and --optimizer adamw: each run logs one line per epoch with a
// finite loss and test NME, its checkpoint records the optimizer asked for, and the optimizer file
// holds that rule's state for every parameter (SGD's momentum buffer, AdamW's two moments).
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureSyntheticDataset } from '../../data/synthetic-dataset.ts';
import { readSafetensors } from '../../nn/safetensors.ts';
import { gpuSkipped } from '../gpu.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sepbn-train-optimizers-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const data = ensureSyntheticDataset(dir, { train: 8, test: 4, size: 96, seed: 4 });

/** Trains the SepBN network for two epochs of one step of two faces at width 64; checks the log and the run settings. */
function trainAndCheck(t: Test, name: string, flags: string[], settings: Record<string, unknown>): string {
  const out = join(dir, name);
  const args = ['cli/train.js', '--data', data, '--width', '64', '--batch', '2', '--epochs', '2', '--max-batches', '1', '--workers', '1', '--out', out, ...flags];
  const run = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
  t.equal(run.status, 0, run.stderr.split('\n').filter((l) => !l.startsWith('Warning:')).join('\n'));
  const log = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.same(log.map((l) => l.epoch), [1, 2], 'one log line per epoch');
  for (const line of log) t.ok(Number.isFinite(line.train_loss) && Number.isFinite(line.test_nme_percent), `epoch ${line.epoch}: loss ${line.train_loss}, test NME ${line.test_nme_percent}`);
  const weights = join(out, 'last.safetensors');
  t.match(JSON.parse(readSafetensors(weights).metadata.run), { model: 'sepbn', width: 64, epochs: 2, ...settings }, 'the run settings asked for');
  return weights;
}

/** Checks that the optimizer file holds exactly `stateNames` for every parameter, each the parameter's size and finite. */
function checkOptimizerState(t: Test, weights: string, stateNames: string[]): void {
  const params = readSafetensors(weights).tensors;
  const optim = readSafetensors(weights.replace(/\.safetensors$/, '.optim.safetensors'));
  t.equal(optim.metadata.step, '2', 'two steps taken');
  const parameterNames = [...params.keys()].filter((n) => n.endsWith('.weight') || n.endsWith('.bias'));
  t.same([...optim.tensors.keys()].sort(), parameterNames.flatMap((p) => stateNames.map((s) => `${p}.${s}`)).sort(), `${stateNames.join(' and ')} of every parameter`);
  for (const [name, state] of optim.tensors) {
    const param = params.get(name.slice(0, name.lastIndexOf('.')))!;
    if (state.data.length !== param.data.length) t.fail(`${name}: ${state.data.length} values for ${param.data.length} parameters`);
    if (!Array.from(state.data as Float32Array).every(Number.isFinite)) t.fail(`${name} holds NaN or Inf`);
  }
}

t.test('--optimizer sgd: momentum 0.9 and weight decay 5e-4 unless told otherwise', async (t) => {
  if (gpuSkipped(t)) return;
  const weights = trainAndCheck(t, 'sgd', ['--optimizer', 'sgd'], { optimizer: 'sgd', lr: 1e-3, weightDecay: 5e-4 });
  // Plain SGD (momentum 0) keeps no state, so a momentum buffer shows the commands' default is in force.
  checkOptimizerState(t, weights, ['momentum_buffer']);
});

t.test('--optimizer adamw with decoupled weight decay', async (t) => {
  if (gpuSkipped(t)) return;
  // AdamW's weight decay defaults to 0 as Adam's does, which would make the two identical: give one.
  const weights = trainAndCheck(t, 'adamw', ['--optimizer', 'adamw', '--weight-decay', '0.01'], { optimizer: 'adamw', weightDecay: 0.01 });
  checkOptimizerState(t, weights, ['exp_avg', 'exp_avg_sq']);
});
