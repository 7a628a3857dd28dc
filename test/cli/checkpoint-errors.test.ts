// Checkpoints that cannot be used, each refused by cli/train.js --resume or cli/test.js --weights
// with exit status 1 and a first line naming the file and the field or tensor at fault, no stack
// trace, and every file left as it was. The refusals come before any arithmetic, so the CPU
// backend serves and no GPU is needed.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureSyntheticDataset } from '../../data/synthetic-dataset.ts';
import { readSafetensors, writeSafetensors, type NamedArray } from '../../nn/safetensors.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sepbn-checkpoint-errors-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const data = ensureSyntheticDataset(dir, { train: 8, test: 4, size: 96, seed: 4 });

function node(args: string[]) {
  return spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
}

/** A finished CPU run of two one-step epochs: every one of them is at step 2, so their optimizer files differ only in what they hold. */
function train(name: string, flags: string[]): string {
  const out = join(dir, name);
  const run = node(['cli/train.js', '--backend', 'cpu', '--data', data, '--batch', '2', '--epochs', '2', '--max-batches', '1', '--workers', '1', '--out', out, ...flags]);
  if (run.status !== 0) throw new Error(run.stderr);
  return out;
}

let base = '';
let otherModel = '';
let otherWidth = '';
t.before(() => {
  base = train('base', ['--width', '64']);
  otherModel = train('baseline', ['--width', '64', '--model', 'baseline']);
  otherWidth = train('w32', ['--width', '32']);
});

/** Every file of a folder, byte for byte. */
function snapshot(folder: string): Map<string, Buffer> {
  return new Map(readdirSync(folder).map((f) => [f, readFileSync(join(folder, f))]));
}

/**
 * A copy of the base checkpoint in its own folder, as `edit` leaves it (the weights' tensors and
 * metadata, the optimizer file kept unless `optimizer` says otherwise).
 */
function variant(name: string, edit: { tensors?: (t: Map<string, NamedArray>) => void; metadata?: (m: Record<string, string>) => Record<string, string>; optimizer?: string | null } = {}): string {
  const folder = join(dir, name);
  mkdirSync(folder);
  const { tensors, metadata } = readSafetensors(join(base, 'last.safetensors'));
  edit.tensors?.(tensors);
  const file = join(folder, 'last.safetensors');
  writeSafetensors(file, [...tensors], edit.metadata ? edit.metadata(metadata) : metadata);
  if (edit.optimizer !== null) copyFileSync(edit.optimizer ?? join(base, 'last.optim.safetensors'), join(folder, 'last.optim.safetensors'));
  return file;
}

/** Runs a command that must refuse; its first line must hold every one of `parts`, and no file may change. */
function refused(t: Test, args: string[], parts: string[], unchanged: string[]): string {
  const before = unchanged.map(snapshot);
  const run = node([...args, '--backend', 'cpu']);
  t.equal(run.status, 1, 'exit status 1');
  const first = run.stderr.split('\n')[0];
  for (const part of parts) t.ok(first.includes(part), `the message names ${part}: ${first}`);
  t.notMatch(run.stderr, /\n\s+at /, 'no stack trace');
  unchanged.forEach((folder, i) => t.same(snapshot(folder), before[i], `${folder}: every file as it was`));
  return first;
}

const resume = (file: string, out = base) => ['cli/train.js', '--resume', file, '--out', out];

t.test('a plain state dict has no run to resume', async (t) => {
  const file = variant('plain', { metadata: () => ({}) });
  refused(t, resume(file), [file, 'has no model configuration in its metadata'], [base, join(dir, 'plain')]);
});

t.test('a checkpoint whose metadata has no run field', async (t) => {
  const file = variant('no-run', { metadata: ({ run: _run, ...rest }) => rest });
  refused(t, resume(file), [`${file}: metadata field "run" is missing`], [base, join(dir, 'no-run')]);
});

t.test('invalid JSON in the run field', async (t) => {
  const file = variant('corrupt-run', { metadata: (m) => ({ ...m, run: '{"model": sepbn' }) });
  refused(t, resume(file), [`${file}: corrupt checkpoint metadata: field "run" is not JSON`], [base, join(dir, 'corrupt-run')]);
});

t.test('a missing optimizer file', async (t) => {
  const file = variant('no-optimizer', { optimizer: null });
  refused(t, resume(file), [file, `its optimizer state ${join(dir, 'no-optimizer', 'last.optim.safetensors')} is missing`], [base, join(dir, 'no-optimizer')]);
});

t.test('an optimizer file from another model', async (t) => {
  const file = variant('optimizer-of-baseline', { optimizer: join(otherModel, 'last.optim.safetensors') });
  const companion = join(dir, 'optimizer-of-baseline', 'last.optim.safetensors');
  refused(t, resume(file), [`${companion} does not fit the model of ${file}`, 'missing bn1.bn.0.weight.exp_avg'], [base, join(dir, 'optimizer-of-baseline')]);
});

t.test('an optimizer file from another width', async (t) => {
  const file = variant('optimizer-of-w32', { optimizer: join(otherWidth, 'last.optim.safetensors') });
  const companion = join(dir, 'optimizer-of-w32', 'last.optim.safetensors');
  // Width 32 has 2 channels where width 64 has 1: twice the values of each state.
  refused(t, resume(file), [`${companion} does not fit the model of ${file}`, 'conv1.weight.exp_avg has 54 values, conv1.weight[1,3,3,3] needs 27'], [base, join(dir, 'optimizer-of-w32')]);
});

t.test('a checkpoint missing a tensor', async (t) => {
  const file = variant('no-conv3-bias', { tensors: (tensors) => tensors.delete('conv3.bias') });
  const unchanged = [base, join(dir, 'no-conv3-bias')];
  const message = `${file} does not match the model (missing 1: conv3.bias)`;
  refused(t, ['cli/test.js', '--weights', file, '--data', data], [message], unchanged);
  refused(t, resume(file), [message], unchanged);
});

t.test('resuming into an --out with no log.jsonl', async (t) => {
  const out = join(dir, 'elsewhere');
  refused(t, resume(join(base, 'last.safetensors'), out), [`${out} has no log.jsonl to continue`, '--out'], [base]);
  for (const name of ['log.jsonl', 'settings.json', 'last.safetensors', 'last.optim.safetensors']) t.notOk(existsSync(join(out, name)), `nothing written: no ${name}`);
});

t.test('a corrupt number or configuration in the metadata is named with its file and field', async (t) => {
  const cases: Array<[name: string, edit: (m: Record<string, string>) => Record<string, string>, message: string]> = [
    ['temperature', (m) => ({ ...m, temperature: 'abc' }), 'field "temperature" must be a number above 0, got "abc"'],
    ['epoch', (m) => ({ ...m, epoch: '1.5' }), 'field "epoch" must be an integer >= 0, got "1.5"'],
    ['step', (m) => ({ ...m, step: '' }), 'field "step" must be an integer >= 0, got ""'],
    ['width', (m) => ({ ...m, config: JSON.stringify({ ...JSON.parse(m.config), width: 3 }) }), 'field "config.width" must be a divisor of 64, got 3'],
    ['sets', (m) => ({ ...m, config: JSON.stringify({ ...JSON.parse(m.config), sepbn: { ...JSON.parse(m.config).sepbn, K: 'x' } }) }), 'field "config.sepbn.K" must be a positive integer, got "x"'],
    ['loss', (m) => ({ ...m, epoch_loss: '{"sum":1}' }), 'field "epoch_loss" must be {"sum": a number, "count": an integer >= 0}, got {"sum":1}'],
  ];
  for (const [name, edit, message] of cases) {
    const file = variant(`corrupt-${name}`, { metadata: edit });
    const unchanged = [base, join(dir, `corrupt-${name}`)];
    refused(t, ['cli/test.js', '--weights', file, '--data', data], [`${file}: corrupt checkpoint metadata: ${message}`], unchanged);
    refused(t, resume(file), [`${file}: corrupt checkpoint metadata: ${message}`], unchanged);
  }
});

t.test('float bytes labelled as integers, and a count stored as floats, are refused by dtype', async (t) => {
  const file = variant('int-weights', {
    tensors: (tensors) => {
      const conv = tensors.get('conv2.weight')!;
      const floats = conv.data as Float32Array;
      // The same bytes, read as integers: what a hand-edited header or a careless converter leaves.
      tensors.set('conv2.weight', { ...conv, dtype: 'I32', data: new Int32Array(floats.buffer, floats.byteOffset, floats.length) });
      tensors.set('bn1.bn.0.num_batches_tracked', { dtype: 'F32', shape: [], data: Float32Array.of(2) });
    },
  });
  const first = refused(t, ['cli/test.js', '--weights', file, '--data', data], [file, 'wrong dtype 2', 'conv2.weight: file I32, model floats (F32, F64, F16)', 'bn1.bn.0.num_batches_tracked: file F32, model an integer count'], [join(dir, 'int-weights')]);
  t.notMatch(first, /missing|extra/, 'only the dtypes are wrong');
});

t.test('one network\'s checkpoint loaded as the other says which it is, in a short line', async (t) => {
  const baseline = join(otherModel, 'last.safetensors');
  const first = refused(t, ['cli/test.js', '--model', 'sepbn', '--width', '64', '--weights', baseline, '--data', data], [`${baseline} is a baseline checkpoint, you asked for sepbn`, 'missing 102: bn1.bn.0.weight, bn1.bn.0.bias, bn1.bn.0.running_mean and 99 more'], [otherModel]);
  t.ok(first.length < 300, `a line, not a page (${first.length} characters)`);
  const sepbn = join(base, 'last.safetensors');
  refused(t, ['cli/test.js', '--model', 'baseline', '--width', '64', '--weights', sepbn, '--data', data], [`${sepbn} is a sepbn checkpoint, you asked for baseline`, 'extra 102:'], [base]);
  refused(t, ['cli/test.js', '--model', 'sepbn', '--width', '32', '--weights', sepbn, '--data', data], [`${sepbn} is a sepbn checkpoint of width 1/64, you asked for width 1/32`, 'mis-shaped'], [base]);
});
