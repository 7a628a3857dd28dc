// node cli/test.js: NME (inter-ocular), FR@0.1 and AUC@0.1 on the test set and each subset, for a
// checkpoint, or for predictions made by any framework.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { predictFile, scoreFiles, type SetScore } from '../data/evaluate.ts';
import { writeLineChartPng } from '../data/figures/plot.ts';
import { cedChart } from '../data/figures/ced-chart.ts';
import { readWflw256 } from '../data/wflw256.ts';
import { readCheckpointInfo } from '../models/checkpoint.ts';
import { buildModel, isModelName, MODEL_NAMES, modelConfig } from '../models/registry.ts';
import { loadStateDict } from '../nn/state-dict.ts';
import { numberOption, parseCommand } from './args.ts';
import { resolveData } from './dataset.ts';
import { backendOption, openBackend, runMain, UsageError } from './main.ts';
import { Progress } from './progress.ts';
import { LANDMARK_COUNT } from '../data/topology.ts';

const { values } = parseCommand({
  usage:
    'node cli/test.js --weights CKPT [--data DIR] [options]\n' +
    '       node cli/test.js --predictions FILE --annotations FILE [--json]',
  summary:
    'Scores landmarks: NME normalised by the inter-ocular distance (points 60 and 72), FR@0.1 (share of\n' +
    'faces with NME > 0.1) and AUC@0.1 (area under the CED curve up to 0.1), for the test set and each subset.\n' +
    'With --predictions, scores a file of predictions from any framework: one line per face of the\n' +
    'annotation file, in its order, 196 numbers (x y interleaved) in the annotation file\'s own frame.',
  options: {
    weights: { type: 'string', value: 'CKPT', help: 'a checkpoint from cli/train.js (or a PyTorch state dict with --model and --width)' },
    data: { type: 'string', value: 'DIR', help: 'prepared WFLW256 folder (default: the built-in synthetic faces)' },
    model: { type: 'string', value: MODEL_NAMES.join('|'), help: 'network, for a state dict without our metadata' },
    width: { type: 'string', value: 'W', help: 'width divisor, for a state dict without our metadata' },
    temperature: { type: 'string', value: 'T', help: "SepBN attention temperature (default: the checkpoint's, or 1)" },
    batch: { type: 'string', value: 'N', default: '32', help: 'images per forward pass' },
    predictions: { type: 'string', value: 'FILE', help: 'predicted landmarks to score instead of running a network' },
    annotations: { type: 'string', value: 'FILE', help: 'the WFLW256 annotation file the predictions belong to' },
    ced: { type: 'string', value: 'PNG', help: 'also draw the CED curve of each set to this PNG' },
    json: { type: 'boolean', help: 'print JSON' },
    backend: backendOption,
  },
});

function readPredictions(file: string, count: number): Float64Array[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${file}: cannot read predictions (${(err as Error).message})`);
  }
  const lines = text.split(/\r?\n/).map((l, i) => ({ l: l.trim(), line: i + 1 })).filter(({ l }) => l !== '');
  if (lines.length !== count) throw new UsageError(`${file} has ${lines.length} lines of predictions but the annotation file has ${count} faces`);
  return lines.map(({ l, line }) => {
    const tokens = l.split(/[\s,]+/);
    if (tokens.length !== 2 * LANDMARK_COUNT) throw new UsageError(`${file}:${line}: expected ${2 * LANDMARK_COUNT} numbers (${LANDMARK_COUNT} x y pairs), found ${tokens.length}`);
    return Float64Array.from(tokens, (t, k) => {
      const v = Number(t);
      if (!Number.isFinite(v)) throw new UsageError(`${file}:${line}: value ${k + 1} ("${t}") is not a number`);
      return v;
    });
  });
}

function print(scores: SetScore[]): void {
  if (values.json) {
    process.stdout.write(JSON.stringify(scores.map(({ nmes: _nmes, ...s }) => s), null, 2) + '\n');
    return;
  }
  const percent = (v: number) => (v === Infinity ? 'inf' : (100 * v).toFixed(2));
  // Columns for faces predicted as NaN or Infinity only when there are any, so a healthy network's table stays as it was.
  const broken = scores.some((s) => s.nonFinite > 0);
  const header = ['set', 'faces', 'NME %', 'FR@0.1 %', 'AUC@0.1', ...(broken ? ['non-finite', 'NME % of the finite'] : [])];
  const rows = scores.map((s) => [
    s.name,
    String(s.count),
    percent(s.nme),
    (100 * s.failureRate).toFixed(2),
    s.auc.toFixed(4),
    ...(broken ? [String(s.nonFinite), s.nonFinite === s.count ? '-' : percent(s.finiteNme)] : []),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  const note = broken
    ? [`non-finite: faces whose predicted landmarks include NaN or Infinity; each makes the NME inf and counts as a failure in FR@0.1 and as beyond 0.1 in AUC@0.1.`]
    : [];
  process.stdout.write([line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), ...note].join('\n') + '\n');
}

runMain(async () => {
  let scores: SetScore[];
  if (values.predictions || values.annotations) {
    if (!values.predictions || !values.annotations) throw new UsageError('--predictions and --annotations go together');
    const annotations = resolve(values.annotations as string);
    const samples = readWflw256(annotations);
    const predicted = readPredictions(values.predictions as string, samples.length);
    scores = scoreFiles(new Map(samples.map((s, i) => [s.imageFile, predicted[i]])), [{ name: 'predictions', file: annotations }]);
  } else {
    if (!values.weights) throw new UsageError('give --weights CKPT (or --predictions FILE --annotations FILE); see --help');
    await openBackend(values.backend);
    const file = resolve(values.weights as string);
    let config;
    let temperature = numberOption(values, 'temperature');
    if (values.model !== undefined) {
      if (!isModelName(values.model)) throw new UsageError(`--model must be one of ${MODEL_NAMES.join(', ')}`);
      config = modelConfig(values.model, numberOption(values, 'width') ?? 1);
    } else {
      const info = readCheckpointInfo(file);
      config = info.config;
      temperature ??= info.state.temperature;
    }
    const model = buildModel(config);
    loadStateDict(file, model);
    // SepBN's attention is scored at the temperature the network was trained at.
    model.temperature = temperature ?? 1;
    const data = resolveData(values.data as string | undefined);
    let progress: Progress | undefined;
    const predictions = await predictFile(model, data.test, {
      batchSize: numberOption(values, 'batch') ?? 32,
      onBatch: (done, total) => (progress ??= new Progress('predicting', total)).update(done),
    });
    scores = scoreFiles(predictions, data.testSets);
  }
  print(scores);
  if (values.ced) {
    writeLineChartPng(values.ced as string, cedChart(scores.map((s) => ({ name: s.name, nmes: s.nmes })), 0.1));
    process.stderr.write(`CED curves written to ${values.ced}\n`);
  }
});
