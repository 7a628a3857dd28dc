#!/usr/bin/env node
// node cli/predict.js: the 98 landmarks a checkpoint finds on images, drawn on each image and, with
// --json, printed in each image's own pixels.
import { basename, extname, join, resolve } from 'node:path';
import { parseFaceBox, readFaceBoxes } from '../data/face-boxes.ts';
import { cropToImagePoints, faceInput, FaceInputError, predictCrops, type FaceBox } from '../data/face-input.ts';
import { SourceError } from '../data/source-error.ts';
import { encodePng, readImage } from '../data/image-io.ts';
import { writeFileAtomic } from '../nn/write-file-atomic.ts';
import { drawLandmarks, readableScale } from '../data/figures/landmark-drawing.ts';
import { loadWeights } from '../models/weights.ts';
import { parseCommand } from './args.ts';
import { backendOption, openBackend, runMain, UsageError } from './main.ts';

const { values, positionals } = parseCommand({
  usage: 'node cli/predict.js --weights CKPT IMAGE... [--box x0,y0,x1,y1]... | [--boxes FILE] [--out DIR] [--json]',
  summary:
    'Finds the 98 landmarks on each image and writes DIR/<name>.landmarks.png: the image, enlarged until the\n' +
    'face is readable, with the points coloured by facial part. An image is either a 256x256 crop from\n' +
    'cli/prepare.js (the network sees its central 128, as in testing) or any photograph with its face box,\n' +
    'from which the crop is made exactly as cli/prepare.js makes it; the box is drawn too. Boxes go one per\n' +
    'image, in the order of the images: --box repeated, or --boxes FILE; "-" stands for an image that is a\n' +
    'prepared crop.',
  options: {
    weights: { type: 'string', value: 'CKPT', help: 'a checkpoint from cli/train.js, or a PyTorch state dict (.pth or safetensors)' },
    box: { type: 'string', value: 'x0,y0,x1,y1', multiple: true, help: 'the face box of one image in its own pixels, or - for a prepared crop; once per image, in the order of the images' },
    boxes: { type: 'string', value: 'FILE', help: 'the face boxes in a file, one line per image in the order of the images: x0 y0 x1 y1 (spaces or commas), or -' },
    interp: { type: 'string', value: 'nearest|bilinear', default: 'nearest', help: 'resampling of the crop made from --box (as cli/prepare.js --interp)' },
    out: { type: 'string', value: 'DIR', default: '.', help: 'where the drawings go' },
    json: { type: 'boolean', help: 'print the landmarks as JSON, [x, y] pairs in each image\'s own pixels' },
    backend: backendOption,
  },
  allowPositionals: true,
});

const BOX_HINT = 'one face box per image, in the order of the images: --box x0,y0,x1,y1 repeated, or --boxes FILE with one line per image, "-" for an image that is a 256x256 crop from cli/prepare.js';

/** The face box of each image (undefined: a prepared crop), from --box or --boxes, one per image. */
function boxesFor(images: string[]): Array<FaceBox | undefined> {
  const given = values.box as string[] | undefined;
  const file = values.boxes as string | undefined;
  if (given && file) throw new UsageError('--box and --boxes both give the face boxes: use one of them');
  let boxes: Array<FaceBox | undefined>;
  if (file !== undefined) {
    try {
      boxes = readFaceBoxes(file);
    } catch (err) {
      throw err instanceof SourceError ? new UsageError(err.message) : err;
    }
  } else if (given) {
    boxes = given.map((text, i) => {
      try {
        return parseFaceBox(text);
      } catch (err) {
        throw new UsageError(`--box ${text} (box ${i + 1}, for ${images[i] ?? 'no image'}): ${(err as Error).message}`);
      }
    });
  } else {
    return images.map(() => undefined);
  }
  if (boxes.length !== images.length) {
    const source = file !== undefined ? `${file} has ${boxes.length} box line${boxes.length === 1 ? '' : 's'}` : `--box is given ${boxes.length} time${boxes.length === 1 ? '' : 's'}`;
    throw new UsageError(`${source} for ${images.length} images: give ${BOX_HINT}`);
  }
  return boxes;
}

runMain(async () => {
  if (!values.weights) throw new UsageError('give --weights CKPT; see --help');
  if (positionals.length === 0) throw new UsageError('give at least one image; see --help');
  if (values.interp !== 'nearest' && values.interp !== 'bilinear') throw new UsageError(`--interp must be nearest or bilinear, got "${String(values.interp)}"`);
  const boxes = boxesFor(positionals);
  const drawingFiles = positionals.map((file) => join(values.out as string, `${basename(file, extname(file))}.landmarks.png`));
  const clash = drawingFiles.find((f, i) => drawingFiles.indexOf(f) !== i);
  if (clash) throw new UsageError(`two images would both be drawn to ${clash}; run them separately with different --out folders`);

  const inputs = positionals.map((file, k) => {
    const image = readImage(file);
    try {
      return { file: resolve(file), image, box: boxes[k], face: faceInput(image, boxes[k], values.interp as 'nearest' | 'bilinear') };
    } catch (err) {
      if (!(err instanceof FaceInputError)) throw err;
      const what = err.needs === 'box' ? `give ${BOX_HINT}` : 'give - as its box (--box - in its place, or a - line in --boxes), or no boxes when every image is such a crop';
      throw new UsageError(`${file}: ${err.message}: ${what}`);
    }
  });
  await openBackend(values.backend);
  const weights = resolve(values.weights as string);
  const { model, state } = loadWeights(weights, {}, (line) => process.stderr.write(`${line}\n`));
  // The attention temperature is run state, not configuration: use the one the checkpoint was trained at
  // (1, where the schedule ends, for a state dict that does not say).
  model.temperature = state?.temperature ?? 1;
  const cropPredictions = await predictCrops(model, inputs.map((i) => i.face.crop));

  const results = inputs.map(({ file, image, box, face }, k) => {
    const landmarksPx = cropToImagePoints(face, cropPredictions[k]);
    writeFileAtomic(drawingFiles[k], encodePng(drawLandmarks(image, landmarksPx, readableScale(face.faceSidePx, image), box)));
    const pairs = Array.from({ length: landmarksPx.length / 2 }, (_, i) => [landmarksPx[2 * i], landmarksPx[2 * i + 1]]);
    return { image: file, width: image.width, height: image.height, box: box ?? null, drawing: resolve(drawingFiles[k]), landmarks: pairs };
  });
  if (values.json) process.stdout.write(JSON.stringify(results) + '\n');
  else for (const r of results) process.stdout.write(`${r.image}: landmarks drawn to ${r.drawing}\n`);
});
