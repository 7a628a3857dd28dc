#!/usr/bin/env node
// node cli/test.js: NME (inter-ocular), FR@0.1 and AUC@0.1 on the test set and each subset, for a
// checkpoint, or for predictions made by any framework.
import { resolve } from 'node:path';
import { predictFile, scoreFiles, type SetScore } from '../data/evaluate.ts';
import { writeLineChartPng } from '../data/figures/plot.ts';
import { cedChart, cedTitle } from '../data/figures/ced-chart.ts';
import { isPredictionLayout, PREDICTION_LAYOUTS, scorePredictions } from '../data/predictions.ts';
import { SourceError } from '../data/source-error.ts';
import { isModelName, MODEL_NAMES, type ModelName } from '../models/registry.ts';
import { loadWeights } from '../models/weights.ts';
import { numberOption, parseCommand } from './args.ts';
import { checkpointData } from './dataset.ts';
import { backendOption, openBackend, runMain, UsageError } from './main.ts';
import { Progress } from './progress.ts';

const { values } = parseCommand({
  usage:
    'node cli/test.js --weights CKPT [--data DIR] [options]\n' +
    '       node cli/test.js --predictions FILE --annotations FILE [--layout xy|planar] [--json] [--ced PNG]',
  summary:
    'Scores landmarks: NME normalised by the inter-ocular distance (points 60 and 72), FR@0.1 (share of\n' +
    'faces with NME > 0.1) and AUC@0.1 (area under the CED curve up to 0.1), for the test set and each subset.\n' +
    'With --predictions, scores a file of predictions from any framework: one line per face of the\n' +
    'annotation file, in its order, 196 numbers in the annotation file\'s own frame (x y interleaved, or\n' +
    'with --layout planar 98 x then 98 y); nan and inf score as a failed face. The annotation file is a\n' +
    'WFLW256 file (its subsets are the test_<attribute>.txt files beside it) or a raw WFLW\n' +
    'list_98pt_rect_attr_*.txt (its subsets come from its attribute flags).\n' +
    'NME and FR are printed in percent, AUC@0.1 as a fraction of the area; --json names the unit in each key.',
  options: {
    weights: { type: 'string', value: 'CKPT', help: 'a checkpoint from cli/train.js, or a PyTorch state dict (.pth or safetensors; its network and width are read from its names unless given)' },
    data: { type: 'string', value: 'DIR', help: "prepared WFLW256 folder (default: the folder the checkpoint's run trained on, else the built-in synthetic faces)" },
    model: { type: 'string', value: MODEL_NAMES.join('|'), help: "network (default: the checkpoint's, or what its tensor names say)" },
    width: { type: 'string', value: 'W', help: "width divisor (default: the checkpoint's, or 64 / conv1.weight's output channels)" },
    temperature: { type: 'string', value: 'T', help: "SepBN attention temperature (default: the checkpoint's, or 1)" },
    batch: { type: 'string', value: 'N', default: '32', help: 'images per forward pass' },
    predictions: { type: 'string', value: 'FILE', help: 'predicted landmarks to score instead of running a network' },
    annotations: { type: 'string', value: 'FILE', help: 'the annotation file the predictions belong to (WFLW256, or raw WFLW with attribute flags)' },
    layout: { type: 'string', value: PREDICTION_LAYOUTS.join('|'), help: 'how --predictions lists a face\'s 196 numbers: x y interleaved, or 98 x then 98 y (default: xy)' },
    ced: { type: 'string', value: 'PNG', help: 'also draw the CED curve of each set to this PNG' },
    json: { type: 'boolean', help: 'print JSON' },
    backend: backendOption,
  },
});

function print(scores: SetScore[]): void {
  if (values.json) {
    // One unit per quantity, named in the key: NME and FR in percent as the table prints them (null: infinite), AUC a fraction.
    const json = scores.map((s) => ({
      name: s.name,
      file: s.file,
      count: s.count,
      nmePercent: 100 * s.nme,
      failureRatePercent: 100 * s.failureRate,
      auc: s.auc,
      nonFinite: s.nonFinite,
      finiteNmePercent: 100 * s.finiteNme,
    }));
    process.stdout.write(JSON.stringify(json, null, 2) + '\n');
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
    const layout = values.layout ?? 'xy';
    if (!isPredictionLayout(layout)) throw new UsageError(`--layout must be ${PREDICTION_LAYOUTS.join(' or ')}, got "${String(layout)}"`);
    try {
      scores = scorePredictions(resolve(values.predictions as string), resolve(values.annotations as string), layout, (w) => process.stderr.write(`warning: ${w}\n`));
    } catch (err) {
      // A bad line or file is the user's to fix, named by file and line: no stack to offer.
      throw err instanceof SourceError ? new UsageError(err.message) : err;
    }
  } else {
    if (!values.weights) throw new UsageError('give --weights CKPT (or --predictions FILE --annotations FILE); see --help');
    if (values.layout !== undefined) throw new UsageError('--layout describes a --predictions file; a network\'s own predictions need none');
    await openBackend(values.backend);
    const file = resolve(values.weights as string);
    if (values.model !== undefined && !isModelName(values.model)) throw new UsageError(`--model must be one of ${MODEL_NAMES.join(', ')}`);
    const { model, state } = loadWeights(file, { model: values.model as ModelName | undefined, width: numberOption(values, 'width') }, (line) => process.stderr.write(`${line}\n`));
    // SepBN's attention is scored at the temperature the network was trained at (1, the schedule's end, for a state dict that does not say).
    model.temperature = numberOption(values, 'temperature') ?? state?.temperature ?? 1;
    const { files: data, said } = checkpointData(values.data as string | undefined, file, state);
    process.stderr.write(`${said}\n`);
    let progress: Progress | undefined;
    const predictions = await predictFile(model, data.test, {
      batchSize: numberOption(values, 'batch') ?? 32,
      onBatch: (done, total) => (progress ??= new Progress('predicting', total)).update(done),
    });
    scores = scoreFiles(predictions, data.testSets);
  }
  print(scores);
  if (values.ced) {
    // The title says what was scored on what: the checkpoint or predictions file, and the annotation file.
    const title = values.predictions ? cedTitle([values.predictions as string], values.annotations as string) : cedTitle([values.weights as string], scores[0].file);
    writeLineChartPng(values.ced as string, cedChart(scores.map((s) => ({ name: `${s.name} (${s.count} faces)`, nmes: s.nmes })), 0.1, title));
    process.stderr.write(`CED curves written to ${values.ced}\n`);
  }
});
