#!/usr/bin/env node
// node cli/grads.js: one train-mode forward and backward on a given batch, everything written to a
// safetensors file, for stepping through gradients and comparing them with PyTorch's.
import { resolve } from 'node:path';
import { referenceStep } from '../models/reference-step.ts';
import { buildModel, isModelName, MODEL_NAMES, modelConfig } from '../models/registry.ts';
import { INPUT_SIZE, LANDMARKS } from '../models/vanilla-cnn.ts';
import { readSafetensors, writeSafetensors, type NamedArray } from '../nn/safetensors.ts';
import { loadStateDict } from '../nn/state-dict.ts';
import { numberOption, parseCommand } from './args.ts';
import { backendOption, openBackend, runMain, UsageError } from './main.ts';

const { values } = parseCommand({
  usage: 'node cli/grads.js --model baseline|sepbn|bn --weights W.safetensors|W.pth --batch B.safetensors --out G.safetensors [options]',
  summary:
    'Runs one train-mode forward and backward (L1 loss) on a batch and writes: loss [1], output [N,196],\n' +
    'grad.<name> for every parameter, buffer.<name> for every running statistic after that forward,\n' +
    'eval_output [N,196] (eval mode, weights as loaded, before the train-mode forward), and with --optimizer\n' +
    'the parameters after one step with the default hyperparameters as adam.<name> or sgd.<name>.\n' +
    'B holds images [N,3,128,128] and landmarks [N,196] (F32, pixels of the 128 frame, x y interleaved).',
  options: {
    model: { type: 'string', value: MODEL_NAMES.join('|'), help: 'which network (required)' },
    weights: { type: 'string', value: 'FILE', help: 'state dict with PyTorch names (safetensors or PyTorch .pth; required)' },
    batch: { type: 'string', value: 'FILE', help: 'safetensors file with images and landmarks (required)' },
    out: { type: 'string', value: 'FILE', help: 'where to write the results (required)' },
    width: { type: 'string', value: 'W', default: '1', help: 'width divisor' },
    temperature: { type: 'string', value: 'T', default: '1', help: 'SepBN attention temperature' },
    optimizer: { type: 'string', value: 'adam|sgd', help: 'also take one optimizer step (Adam lr 1e-3, betas 0.9/0.999, eps 1e-8; SGD lr 1e-3, momentum 0.9, weight decay 5e-4)' },
    backend: backendOption,
  },
});

function required(name: string): string {
  const v = values[name];
  if (typeof v !== 'string') throw new UsageError(`--${name} is required; see --help`);
  return v;
}

function batchArray(file: string, tensors: Map<string, NamedArray>, name: string, shape: (n: number) => number[]): NamedArray {
  const t = tensors.get(name);
  if (!t) throw new UsageError(`${file} has no tensor "${name}" (it has: ${[...tensors.keys()].join(', ')})`);
  const n = t.shape[0];
  if (t.shape.join() !== shape(n).join()) throw new UsageError(`${file}: ${name} must be [${shape('N' as never).join(',')}], got [${t.shape.join(',')}]`);
  return t;
}

runMain(async () => {
  const model = values.model;
  if (!isModelName(model)) throw new UsageError(`--model must be one of ${MODEL_NAMES.join(', ')}`);
  const [weightsFile, batchFile, outFile] = [required('weights'), required('batch'), required('out')].map((f) => resolve(f));
  const optimizerKind = values.optimizer as string | undefined;
  if (optimizerKind !== undefined && optimizerKind !== 'adam' && optimizerKind !== 'sgd') throw new UsageError('--optimizer must be adam or sgd');
  await openBackend(values.backend);

  const net = buildModel(modelConfig(model, numberOption(values, 'width') ?? 1));
  net.temperature = numberOption(values, 'temperature') ?? 1;
  loadStateDict(weightsFile, net);
  const { tensors } = readSafetensors(batchFile);
  const images = batchArray(batchFile, tensors, 'images', (n) => [n, 3, INPUT_SIZE, INPUT_SIZE]);
  const landmarks = batchArray(batchFile, tensors, 'landmarks', (n) => [n, 2 * LANDMARKS]);
  if (images.shape[0] !== landmarks.shape[0]) throw new UsageError(`${batchFile}: ${images.shape[0]} images but ${landmarks.shape[0]} landmark rows`);
  const out = await referenceStep(net, { images: images.data as Float32Array, landmarks: landmarks.data as Float32Array }, optimizerKind);
  writeSafetensors(outFile, out, { model, width: String(numberOption(values, 'width') ?? 1), temperature: String(net.sepBnLayers[0]?.temperature ?? '') });
  process.stdout.write(`wrote ${out.length} tensors to ${outFile}\n`);
});
