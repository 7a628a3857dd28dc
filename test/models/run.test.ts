// A training run driven in-process through models/run.ts on a tiny synthetic set: stopped at an
// epoch boundary or mid-epoch and resumed, it ends bit for bit where an uninterrupted run ends;
// settings read back from a checkpoint are checked field by field. The runs use WebGPU because
// checkpoints hold f32: the CPU backend trains in Float64, which a save and reload would round.
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useBackend } from '../../engine/backend.ts';
import { ensureSyntheticDataset } from '../../data/synthetic-dataset.ts';
import { saveCheckpoint } from '../../models/checkpoint.ts';
import { buildModel, modelConfig } from '../../models/registry.ts';
import { parseRunSettings, readRunCheckpoint, TrainingRun, type RunEvents, type RunSettings } from '../../models/run.ts';
import { readSafetensors } from '../../nn/safetensors.ts';
import { withGpu } from '../gpu.ts';
import { wflwRunData } from '../../data/run-data.ts';

const dir = mkdtempSync(join(tmpdir(), 'sepbn-run-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const prepared = ensureSyntheticDataset(dir, { train: 8, test: 4, size: 96, seed: 4 });
const data = { train: join(prepared, 'train.txt'), test: join(prepared, 'test.txt') };
// Width 64 has 1..32 channels: two steps of two faces per epoch take well under a second.
const settings: RunSettings = { model: 'sepbn', width: 64, epochs: 3, batch: 2, maxBatches: 2, optimizer: 'adam', lr: 3e-3, weightDecay: 0, warmup: 1, seed: 1, data: prepared };
const file = 'runs/x/last.safetensors';

const options = (name: string) => ({ out: join(dir, name), openData: (s: RunSettings) => wflwRunData(data, s, 0) });

/** The log without its timings, which differ from run to run. */
function logOf(out: string): unknown[] {
  const lines = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n');
  return lines.map((l) => {
    const { seconds, images_per_second, ...rest } = JSON.parse(l);
    return { ...rest, timed: seconds > 0 && images_per_second > 0 };
  });
}

function sameCheckpoints(t: Test, a: string, b: string): void {
  for (const name of ['last.safetensors', 'last.optim.safetensors']) {
    const left = readSafetensors(join(a, name));
    const right = readSafetensors(join(b, name));
    t.same([...right.tensors.keys()], [...left.tensors.keys()], `${name}: the same tensors`);
    const differing = [...left.tensors].filter(([key, x]) => !Buffer.from(x.data.buffer).equals(Buffer.from(right.tensors.get(key)!.data.buffer)));
    t.same(differing.map(([key]) => key), [], `${name}: every tensor bit for bit`);
    t.same(right.metadata, left.metadata, `${name}: the same metadata (epoch, step, settings)`);
  }
}

/** Runs until `stopWhen` asks for a stop, then resumes from the checkpoint into the same folder. */
async function stopAndResume(t: Test, name: string, stopWhen: (stop: AbortController) => RunEvents, expected: { epoch: number; batchInEpoch: number }) {
  const stop = new AbortController();
  const first = await TrainingRun.start(settings, options(name)).train({ signal: stop.signal, ...stopWhen(stop) });
  t.same(first, { stopped: true, ...expected }, 'the stop request ends the run with a checkpoint');
  t.equal(logOf(options(name).out).length, expected.epoch, 'one log line per finished epoch');
  const saved = readRunCheckpoint(join(options(name).out, 'last.safetensors'));
  t.same(saved.settings, settings, 'the checkpoint holds the settings');
  t.same(await TrainingRun.resume(saved, options(name)).train(), { stopped: false, epoch: 3, batchInEpoch: 0 });
}

t.test('settings read back from a checkpoint are checked field by field', async (t) => {
  t.same(parseRunSettings(JSON.parse(JSON.stringify(settings)), file), settings);
  t.same(parseRunSettings({ ...settings, maxBatches: null, data: null }, file), { ...settings, maxBatches: null, data: null }, 'null for all batches and for the synthetic faces');
  const withoutWidth: Record<string, unknown> = { ...settings };
  delete withoutWidth.width;
  t.throws(() => parseRunSettings(withoutWidth, file), { name: 'RunError', message: 'runs/x/last.safetensors: metadata field "width" is missing' });
  t.throws(() => parseRunSettings({ ...settings, width: 'abc' }, file), { message: 'runs/x/last.safetensors: metadata field "width" must be a positive integer, got "abc"' });
  t.throws(() => parseRunSettings({ ...settings, epochs: 2.5 }, file), { message: /"epochs" must be a positive integer, got 2\.5$/ });
  t.throws(() => parseRunSettings({ ...settings, optimizer: 'rmsprop' }, file), { message: /"optimizer" must be adam, adamw, sgd, got "rmsprop"$/ });
  t.throws(() => parseRunSettings({ ...settings, warmup: 3 }, file), { message: /"warmup" must be below epochs \(3\), got 3$/ });
  t.throws(() => parseRunSettings({ ...settings, data: 5 }, file), { message: /"data" must be a folder name or null, got 5$/ });
  t.throws(() => parseRunSettings([1, 2], file), { message: 'runs/x/last.safetensors: metadata field "run" must be an object of run settings, got [1,2]' });
});

t.test('a checkpoint with bad run metadata is refused by name', async (t) => {
  await useBackend('cpu');
  const model = buildModel(modelConfig(settings.model, settings.width, settings.seed));
  const position = { epoch: 1, batchInEpoch: 0, step: 2, temperature: 30, epochLoss: { sum: 0, count: 0 } };
  const bad = join(dir, 'bad.safetensors');
  await saveCheckpoint(bad, model, undefined, { ...position, run: { ...settings, lr: 'fast' } });
  t.throws(() => readRunCheckpoint(bad), { message: `${bad}: metadata field "lr" must be a positive number, got "fast"` });
  await saveCheckpoint(bad, model, undefined, { ...position, epoch: 4, run: { ...settings } });
  t.throws(() => readRunCheckpoint(bad), { message: `${bad}: metadata field "epoch" must be an integer from 0 to 3, got 4` });
});

t.test('stopped and resumed runs end where an uninterrupted run ends', async (t) => {
  if (!(await withGpu(t))) return;
  await useBackend('webgpu');
  const straight = options('straight');
  t.same(await TrainingRun.start(settings, straight).train(), { stopped: false, epoch: 3, batchInEpoch: 0 });
  const log = logOf(straight.out);
  t.equal(log.length, 3);

  t.test('stopped after epoch 1, resumed to 3', async (t) => {
    await stopAndResume(t, 'boundary', (stop) => ({ onEpochEnd: (line) => { if (line.epoch === 1) stop.abort(); } }), { epoch: 1, batchInEpoch: 0 });
    t.same(logOf(options('boundary').out), log, 'the same log lines but for the timings');
    sameCheckpoints(t, straight.out, options('boundary').out);
  });

  t.test('stopped after the first step of epoch 2, resumed to 3', async (t) => {
    await stopAndResume(t, 'mid-epoch', (stop) => ({ onEpochStart: ({ epoch }) => { if (epoch === 1) stop.abort(); } }), { epoch: 1, batchInEpoch: 1 });
    t.same(logOf(options('mid-epoch').out), log, 'the same log lines but for the timings');
    sameCheckpoints(t, straight.out, options('mid-epoch').out);
  });
});
