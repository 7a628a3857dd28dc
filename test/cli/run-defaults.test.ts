// A checkpoint carries its run: a SepBN run trained with its own K, attention ratio, temperature
// schedule and no augmentation records them, so test, visualize, predict and --resume rebuild the
// same network; test and visualize score the data folder the run trained on unless --data says
// otherwise, and say which; a file without a recorded folder falls back to the synthetic faces
// with a line saying so. The run keeps best.safetensors beside last, and the closing hint runs as
// printed. Everything on the CPU backend at width 1/64 (one channel in the first layer): seconds.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureSyntheticDataset } from '../../data/synthetic-dataset.ts';
import { readSafetensors, writeSafetensors } from '../../nn/safetensors.ts';
import { runCommand } from './run-command.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sepbn-run-defaults-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
// Two small sets told apart by their test faces: 4 in the run's, 6 in the other.
const data = ensureSyntheticDataset(dir, { train: 8, test: 4, size: 96, seed: 4 });
const otherData = ensureSyntheticDataset(dir, { train: 4, test: 6, size: 96, seed: 5 });
const out = join(dir, 'run');
const last = join(out, 'last.safetensors');
const best = join(out, 'best.safetensors');

const common = ['--backend', 'cpu', '--data', data, '--width', '64', '--batch', '2', '--max-batches', '1', '--workers', '1'];
const sepbnFlags = ['--sets', '2', '--ratio', '0.5', '--temperature-start', '4', '--temperature-end', '2', '--temperature-step', '1', '--augment', 'none'];

interface LogLine {
  epoch: number;
  temperature: number;
  train_loss: number;
  test_nme_percent: number;
}
const readLog = (folder: string) => readFileSync(join(folder, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as LogLine);

/** The row of the whole test set in test's table: [set, faces, NME %, ...]. */
const firstRow = (stdout: string) => stdout.split('\n').find((l) => l.startsWith('test '))?.trim().split(/\s+/) ?? [];

const trained = runCommand(['cli/train.js', ...common, '--epochs', '2', '--out', out, ...sepbnFlags]);

t.test('the run records its SepBN shape, temperature schedule and augmentation', async (t) => {
  t.equal(trained.status, 0, trained.stderr);
  const settings = JSON.parse(readFileSync(join(out, 'settings.json'), 'utf8'));
  t.match(settings, { sets: 2, ratio: 0.5, groups: 1, temperatureStart: 4, temperatureEnd: 2, temperatureStep: 1, augment: 'none' }, 'settings.json');
  const { metadata, tensors } = readSafetensors(last);
  t.same(JSON.parse(metadata.config).sepbn, { K: 2, ratio: 0.5, groups: 1, temperature: 4 }, "the checkpoint's model config");
  t.match(JSON.parse(metadata.run), { sets: 2, ratio: 0.5, temperatureStart: 4, temperatureEnd: 2, temperatureStep: 1, augment: 'none' }, 'its run settings');
  t.ok(tensors.has('bn1.bn.1.weight') && !tensors.has('bn1.bn.2.weight'), 'two parameter sets per layer');
  // Layer 6 has 32 channels at width 1/64: floor(0.5 x 32) = 16 hidden units.
  t.same(tensors.get('bn6.fc1.weight')?.shape, [16, 32, 1, 1], 'the attention is ratio x channels wide');
  t.same(readLog(out).map((l) => l.temperature), [4, 3], 'the temperature starts at 4 and falls by 1 an epoch');
  t.match(trained.stderr, /SepBN 2 sets ratio 0\.5 1 group, temperature 4 falling 1 an epoch to 2, augmentation none/, 'the start line says them');
});

t.test('best.safetensors holds the epoch with the lowest test NME, beside last', async (t) => {
  const log = readLog(out);
  const lowest = log.reduce((a, b) => (b.test_nme_percent < a.test_nme_percent ? b : a));
  const { metadata } = readSafetensors(best);
  t.equal(Number(metadata.epoch), lowest.epoch, `best is epoch ${lowest.epoch}`);
  t.equal(Number(metadata.test_nme_percent), lowest.test_nme_percent, 'and records its test NME');
  t.equal(Number(readSafetensors(last).metadata.test_nme_percent), log[log.length - 1].test_nme_percent, 'last records its own');
  t.ok(readSafetensors(join(out, 'best.optim.safetensors')).tensors.size > 0, 'best has its optimizer state beside it');
  t.match(trained.stdout, new RegExp(`the best epoch, ${lowest.epoch} \\(test NME [\\d.]+ %\\), is ${best.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
});

t.test("train's closing hint runs as printed and scores the run's own data", async (t) => {
  const hint = /^score it with: (.*)$/m.exec(trained.stdout)?.[1];
  if (!hint) return t.fail(`no hint in ${JSON.stringify(trained.stdout)}`);
  t.notMatch(hint, /--data/, 'the hint needs no --data');
  // As a user runs it: through the shell, from the repository root.
  const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` };
  const r = spawnSync('sh', ['-c', hint], { cwd: root, encoding: 'utf8', env });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stderr, `data: ${data}, the folder the checkpoint's run trained on`, 'it names the data it scores');
  t.same(firstRow(r.stdout).slice(0, 2), ['test', '4'], "the run's 4 test faces");
  const nme = Number(firstRow(r.stdout)[2]);
  // Printed to 2 decimals, and the hint runs on WebGPU (f32) where one is found; the run trained on the CPU.
  t.ok(Math.abs(nme - readLog(out)[1].test_nme_percent) < 0.01, `the NME the run logged: ${nme} %`);
});

t.test('--data overrides the recorded folder', async (t) => {
  const r = runCommand(['cli/test.js', '--backend', 'cpu', '--weights', last, '--data', otherData]);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stderr, `data: ${otherData} (--data)`);
  t.same(firstRow(r.stdout).slice(0, 2), ['test', '6']);
});

t.test('visualize scores the recorded folder too, and says so', async (t) => {
  const r = runCommand(['cli/visualize.js', '--backend', 'cpu', '--weights', last, '--out', join(dir, 'figures')]);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stderr, `data: ${data}, the folder the checkpoint's run trained on`);
  t.match(r.stdout, /sepbn-attention\.png/, 'the K = 2 network was rebuilt and run');
});

t.test('predict rebuilds the network from the checkpoint', async (t) => {
  const crop = readFileSync(join(data, 'test.txt'), 'utf8').split('\n')[0].trim().split(/\s+/).pop()!;
  const r = runCommand(['cli/predict.js', '--backend', 'cpu', '--weights', last, '--out', join(dir, 'drawings'), '--json', join(data, crop)]);
  t.equal(r.status, 0, r.stderr);
  t.equal((JSON.parse(r.stdout) as Array<{ landmarks: unknown[] }>)[0].landmarks.length, 98);
});

t.test('a file without a recorded data folder falls back to the synthetic faces, with a line saying so', async (t) => {
  // The same tensors as a plain state dict, as PyTorch's save_file writes it: no metadata.
  const plain = join(dir, 'plain.safetensors');
  writeSafetensors(plain, [...readSafetensors(last).tensors], {});
  const r = runCommand(['cli/test.js', '--backend', 'cpu', '--weights', plain]);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stderr, /data: the built-in synthetic faces \(.*\), since .*plain\.safetensors records no data folder .*give --data DIR/);
  t.same(firstRow(r.stdout).slice(0, 2), ['test', '200'], "the built-in set's 200 test faces");
  t.match(r.stderr, /inferred sepbn from its bnN.bn.K.* names \(K = 2\), attention ratio 0.5 from bnN.fc1.weight/, 'K and the ratio read from the shapes');
});

t.test('a recorded folder that is gone is named, with what to do', async (t) => {
  const { tensors, metadata } = readSafetensors(last);
  const moved = join(dir, 'moved.safetensors');
  writeSafetensors(moved, [...tensors], { ...metadata, run: JSON.stringify({ ...JSON.parse(metadata.run), data: join(dir, 'gone') }) });
  const r = runCommand(['cli/test.js', '--backend', 'cpu', '--weights', moved]);
  t.equal(r.status, 1);
  t.match(r.stderr, `${moved} was trained on ${join(dir, 'gone')} (its metadata says), which has no test.txt now: give --data DIR`);
});

t.test('--resume rebuilds the same network and schedule; a different one is refused', async (t) => {
  const refused = runCommand(['cli/train.js', '--backend', 'cpu', '--resume', last, '--epochs', '3', '--sets', '3']);
  t.not(refused.status, 0);
  t.match(refused.stderr, `--sets 3 differs from the checkpoint's 2 (${last})`);
  const r = runCommand(['cli/train.js', '--backend', 'cpu', '--resume', last, '--epochs', '3', '--workers', '1']);
  t.equal(r.status, 0, r.stderr);
  t.same(readLog(out).map((l) => l.temperature), [4, 3, 2], 'the temperature goes on falling, to its end of 2');
});

t.test('SepBN flags are refused for a network without SepBN, and bad combinations named', async (t) => {
  const cases: Array<[string[], string]> = [
    [['--model', 'baseline', '--sets', '2'], '--sets shapes SepBN layers, and --model baseline has none'],
    [['--groups', '3'], '--groups 3 does not divide the 1 channels of the first SepBN layer at width 1/64'],
    [['--temperature-start', '2', '--temperature-end', '3'], '--temperature-end 3 is above --temperature-start 2'],
    [['--augment', 'flip'], '--augment must be one of affine, none, got "flip"'],
    [['--ratio', '0'], '--ratio expects a number above 0, got "0"'],
  ];
  for (const [flags, message] of cases) {
    const r = runCommand(['cli/train.js', ...common, '--epochs', '1', '--out', join(dir, 'refused'), ...flags]);
    t.not(r.status, 0, flags.join(' '));
    t.match(r.stderr, message);
  }
});

t.test('--augment none trains on the plain crops, affine on warped ones', async (t) => {
  // One epoch of one step: its loss comes before any update, so it differs only by the images seen.
  const firstLoss = (augment: string, name: string) => {
    const folder = join(dir, name);
    const r = runCommand(['cli/train.js', ...common, '--epochs', '1', '--out', folder, '--augment', augment]);
    t.equal(r.status, 0, r.stderr);
    return readLog(folder)[0].train_loss;
  };
  const [none, again, affine] = [firstLoss('none', 'none'), firstLoss('none', 'none-again'), firstLoss('affine', 'affine')];
  t.equal(none, again, 'the same batch without augmentation gives the same loss');
  t.not(none, affine, 'the augmented batch gives another');
});
