#!/usr/bin/env node
// node cli/visualize.js: figures of a trained checkpoint: its SepBN parameters and attention, its
// training curves, and its CED curve beside those of other runs.
import { existsSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { cedChart, cedTitle } from '../data/figures/ced-chart.ts';
import { predictFile, scoreFiles } from '../data/evaluate.ts';
import { encodePng } from '../data/image-io.ts';
import { writeFileAtomic } from '../nn/write-file-atomic.ts';
import { writeLineChartPng } from '../data/figures/plot.ts';
import { renderSepBnAttention, renderSepBnParameters } from '../data/figures/sepbn-figures.ts';
import { collectSepBnAttention, sepBnParameters } from '../data/sepbn-inspection.ts';
import { readTrainingLog, renderTrainingCurves } from '../data/figures/training-curves.ts';
import type { RunState } from '../models/checkpoint.ts';
import { loadWeights } from '../models/weights.ts';
import type { VanillaCnn } from '../models/vanilla-cnn.ts';
import { numberOption, parseCommand } from './args.ts';
import { checkpointData } from './dataset.ts';
import { backendOption, openBackend, runMain, UsageError } from './main.ts';
import { Progress } from './progress.ts';

const { values } = parseCommand({
  usage: 'node cli/visualize.js --weights CKPT --out DIR [--data DIR] [--log LOG.jsonl] [--compare CKPT]...',
  summary:
    'Draws figures of a checkpoint into DIR: sepbn-parameters.png (each SepBN layer\'s K sets of scale and shift\n' +
    'by channel, beside each set\'s deviation from the mean of the K sets on a scale of its own),\n' +
    'sepbn-attention.png (the attention each layer gives its K sets over the test images), training-curves.png\n' +
    '(loss, test NME, learning rate and, with SepBN, temperature by epoch) and ced.png (the CED curves of this\n' +
    'and each --compare checkpoint on the test set). A network without SepBN gets the last two.',
  options: {
    weights: { type: 'string', value: 'CKPT', help: 'a checkpoint from cli/train.js, or a PyTorch state dict (.pth or safetensors)' },
    out: { type: 'string', value: 'DIR', help: 'where the PNGs go' },
    data: { type: 'string', value: 'DIR', help: "prepared WFLW256 folder whose test.txt is scored (default: the folder the checkpoint's run trained on, else the built-in synthetic faces)" },
    log: { type: 'string', value: 'LOG.jsonl', help: 'training log to plot (default: log.jsonl beside the checkpoint, if there)' },
    compare: { type: 'string', value: 'CKPT', multiple: true, help: 'another checkpoint whose CED curve goes on ced.png (repeatable)' },
    batch: { type: 'string', value: 'N', default: '32', help: 'images per forward pass' },
    backend: backendOption,
  },
});

/** What a checkpoint is called in legends and titles: its run folder, or its file name when that says more. */
function runLabel(file: string): string {
  return basename(file) === 'last.safetensors' ? basename(dirname(file)) : basename(file).replace(/\.(safetensors|pth|pt)$/, '');
}

function loadCheckpoint(file: string): { model: VanillaCnn; state?: RunState } {
  const { model, state } = loadWeights(file, {}, (line) => process.stderr.write(`${line}\n`));
  // The attention temperature is run state, not configuration: use the one the checkpoint was trained at
  // (1, where the schedule ends, for a state dict that does not say).
  model.temperature = state?.temperature ?? 1;
  return { model, state };
}

runMain(async () => {
  if (!values.weights) throw new UsageError('give --weights CKPT; see --help');
  if (!values.out) throw new UsageError('give --out DIR for the figures; see --help');
  const out = resolve(values.out as string);
  const weights = resolve(values.weights as string);
  const compare = ((values.compare as string[] | undefined) ?? []).map((f) => resolve(f));
  const batchSize = numberOption(values, 'batch') ?? 32;
  await openBackend(values.backend);
  const written: string[] = [];
  const write = (name: string, png: Uint8Array) => {
    writeFileAtomic(join(out, name), png);
    written.push(join(out, name));
  };

  const { model, state } = loadCheckpoint(weights);
  const { files: data, said } = checkpointData(values.data as string | undefined, weights, state);
  process.stderr.write(`${said}\n`);
  const label = runLabel(weights);
  let predictions: Map<string, Float64Array>;
  if (model.sepBnLayers.length > 0) {
    write('sepbn-parameters.png', encodePng(renderSepBnParameters(await sepBnParameters(model), `SepBN parameters of ${label}${state ? ` after epoch ${state.epoch}` : ''}`)));
    let progress: Progress | undefined;
    const run = await collectSepBnAttention(model, data.test, { batchSize, onBatch: (done, total) => (progress ??= new Progress(`attention of ${label}`, total)).update(done) });
    const images = run.layers[0].weights.length / run.layers[0].sets;
    const caption = `SepBN attention of ${label} to its ${run.layers[0].sets} parameter sets over ${images} test images, temperature ${model.sepBnLayers[0].temperature}`;
    write('sepbn-attention.png', encodePng(renderSepBnAttention(run.layers, caption)));
    predictions = run.predictions;
  } else {
    process.stderr.write(`${label} has no SepBN layers: no sepbn-parameters.png or sepbn-attention.png\n`);
    predictions = await predictFile(model, data.test, { batchSize });
  }

  const logFile = values.log ? resolve(values.log as string) : join(dirname(weights), 'log.jsonl');
  if (existsSync(logFile)) {
    write('training-curves.png', encodePng(renderTrainingCurves(readTrainingLog(logFile), `Training of ${label}`, model.sepBnLayers.length > 0)));
  } else if (values.log) {
    throw new UsageError(`${logFile}: no such training log`);
  } else {
    process.stderr.write(`no log.jsonl beside ${weights}: no training-curves.png (give --log LOG.jsonl)\n`);
  }

  const runs = [{ file: weights, predictions }];
  for (const file of compare) {
    process.stderr.write(`scoring ${file}\n`);
    runs.push({ file, predictions: await predictFile(loadCheckpoint(file).model, data.test, { batchSize }) });
  }
  const labels = runs.map((r) => runLabel(r.file));
  // Two runs with the same folder name are told apart by their paths.
  const names = runs.map((r, i) => (labels.indexOf(labels[i]) !== labels.lastIndexOf(labels[i]) ? relative(process.cwd(), r.file) : labels[i]));
  const sets = runs.map((r, i) => {
    const [score] = scoreFiles(r.predictions, [{ name: 'test', file: data.test }]);
    return { name: `${names[i]}: NME ${(100 * score.nme).toFixed(2)} %, AUC@0.1 ${score.auc.toFixed(3)}`, nmes: score.nmes };
  });
  const title = cedTitle(names, `the ${sets[0].nmes.length} faces of ${data.test}`);
  writeLineChartPng(join(out, 'ced.png'), cedChart(sets, 0.1, title));
  written.push(join(out, 'ced.png'));
  process.stdout.write(written.map((f) => f + '\n').join(''));
});
