// node cli/predict.js: the 98 landmarks a checkpoint finds on images, drawn on each image and, with
// --json, printed in each image's own pixels.
import { basename, extname, join, resolve } from 'node:path';
import { cropToImagePoints, faceInput, predictCrops, type FaceBox } from '../data/face-input.ts';
import { encodePng, readImage } from '../data/image-io.ts';
import { writeFileAtomic } from '../nn/write-file-atomic.ts';
import { drawLandmarks, readableScale } from '../data/figures/landmark-drawing.ts';
import { readCheckpointInfo } from '../models/checkpoint.ts';
import { buildModel } from '../models/registry.ts';
import { loadStateDict } from '../nn/state-dict.ts';
import { parseCommand } from './args.ts';
import { backendOption, openBackend, runMain, UsageError } from './main.ts';

const { values, positionals } = parseCommand({
  usage: 'node cli/predict.js --weights CKPT IMAGE... [--box x0,y0,x1,y1] [--out DIR] [--json]',
  summary:
    'Finds the 98 landmarks on each image and writes DIR/<name>.landmarks.png: the image, enlarged until the\n' +
    'face is readable, with the points coloured by facial part. An image is either a 256x256 crop from\n' +
    'cli/prepare.js (the network sees its central 128, as in testing) or any photograph with --box, the face\n' +
    'box in that photograph, from which the crop is made exactly as cli/prepare.js makes it.',
  options: {
    weights: { type: 'string', value: 'CKPT', help: 'a checkpoint from cli/train.js' },
    box: { type: 'string', value: 'x0,y0,x1,y1', help: 'the face box in the image\'s pixels (for images that are not prepared crops)' },
    interp: { type: 'string', value: 'nearest|bilinear', default: 'nearest', help: 'resampling of the crop made from --box (as cli/prepare.js --interp)' },
    out: { type: 'string', value: 'DIR', default: '.', help: 'where the drawings go' },
    json: { type: 'boolean', help: 'print the landmarks as JSON, [x, y] pairs in each image\'s own pixels' },
    backend: backendOption,
  },
  allowPositionals: true,
});

function parseBox(text: string): FaceBox {
  const numbers = text.split(',').map(Number);
  if (numbers.length !== 4 || !numbers.every(Number.isFinite)) throw new UsageError(`--box expects four numbers x0,y0,x1,y1, got "${text}"`);
  const [x0, y0, x1, y1] = numbers;
  if (!(x1 > x0 && y1 > y0)) throw new UsageError(`--box ${text}: x1 must exceed x0 and y1 must exceed y0`);
  return [x0, y0, x1, y1];
}

runMain(async () => {
  if (!values.weights) throw new UsageError('give --weights CKPT; see --help');
  if (positionals.length === 0) throw new UsageError('give at least one image; see --help');
  if (values.interp !== 'nearest' && values.interp !== 'bilinear') throw new UsageError(`--interp must be nearest or bilinear, got "${String(values.interp)}"`);
  const box = values.box === undefined ? undefined : parseBox(values.box as string);
  const drawingFiles = positionals.map((file) => join(values.out as string, `${basename(file, extname(file))}.landmarks.png`));
  const clash = drawingFiles.find((f, i) => drawingFiles.indexOf(f) !== i);
  if (clash) throw new UsageError(`two images would both be drawn to ${clash}; run them separately with different --out folders`);

  const inputs = positionals.map((file) => {
    const image = readImage(file);
    try {
      return { file: resolve(file), image, face: faceInput(image, box, values.interp as 'nearest' | 'bilinear') };
    } catch (err) {
      throw new UsageError(`${file}: ${(err as Error).message}`);
    }
  });
  await openBackend(values.backend);
  const weights = resolve(values.weights as string);
  const { config, state } = readCheckpointInfo(weights);
  const model = buildModel(config);
  loadStateDict(weights, model);
  // The attention temperature is run state, not configuration: use the one the checkpoint was trained at.
  model.temperature = state.temperature;
  const cropPredictions = await predictCrops(model, inputs.map((i) => i.face.crop));

  const results = inputs.map(({ file, image, face }, k) => {
    const landmarksPx = cropToImagePoints(face, cropPredictions[k]);
    writeFileAtomic(drawingFiles[k], encodePng(drawLandmarks(image, landmarksPx, readableScale(face.faceSidePx, image))));
    const pairs = Array.from({ length: landmarksPx.length / 2 }, (_, i) => [landmarksPx[2 * i], landmarksPx[2 * i + 1]]);
    return { image: file, width: image.width, height: image.height, box: box ?? null, drawing: resolve(drawingFiles[k]), landmarks: pairs };
  });
  if (values.json) process.stdout.write(JSON.stringify(results) + '\n');
  else for (const r of results) process.stdout.write(`${r.image}: landmarks drawn to ${r.drawing}\n`);
});
