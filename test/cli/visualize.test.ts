// The predict and visualize commands end to end on a tiny synthetic set and tiny checkpoints made
// here (a width-32 SepBN network and a baseline, on the CPU backend): drawings of the right size
// with dots where --json says, --box predictions equal to the prepared crop's mapped back, and
// every figure written and not blank.
import t, { type Test } from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mat2d } from 'gl-matrix';
import { PNG } from 'pngjs';
import { shutdown, useBackend } from '../../engine/backend.ts';
import { cropRegion, sourceToCrop } from '../../data/face-crop.ts';
import { dotRadius, landmarkColours, READABLE_FACE_PX } from '../../data/figures/landmark-drawing.ts';
import { SERIES_COLOURS } from '../../data/figures/plot.ts';
import { readWflwAnnotations, wflwAnnotationFile, wflwImageFile } from '../../data/wflw-annotations.ts';
import { readWflw256 } from '../../data/wflw256.ts';
import { saveCheckpoint } from '../../models/checkpoint.ts';
import { buildModel, modelConfig } from '../../models/registry.ts';
import { runCommand } from './run-command.ts';

const dir = mkdtempSync(join(tmpdir(), 'sepbn-visualize-'));
const raw = join(dir, 'raw');
const data = join(dir, 'faces256');
const sepbnRun = join(dir, 'sepbn-run');
const baselineRun = join(dir, 'baseline-run');

const node = runCommand;

function readPng(file: string): PNG {
  return PNG.sync.read(readFileSync(file));
}

const rgbAt = (png: PNG, x: number, y: number) => Array.from(png.data.subarray(4 * (y * png.width + x), 4 * (y * png.width + x) + 3));

/** Share of pixels that are not white, and the number of distinct colours. */
function inkAndColours(png: PNG): { ink: number; colours: number } {
  const colours = new Set<number>();
  let ink = 0;
  for (let o = 0; o < png.data.length; o += 4) {
    const rgb = (png.data[o] << 16) | (png.data[o + 1] << 8) | png.data[o + 2];
    colours.add(rgb);
    if (rgb !== 0xffffff) ink++;
  }
  return { ink: ink / (png.width * png.height), colours: colours.size };
}

t.before(async () => {
  const synth = node(['cli/synth.js', '--out', raw, '--count', '12', '--seed', '5']);
  if (synth.status !== 0) throw new Error(synth.stderr);
  const prepared = node(['cli/prepare.js', '--wflw', raw, '--out', data]);
  if (prepared.status !== 0) throw new Error(prepared.stderr);
  await useBackend('cpu');
  mkdirSync(sepbnRun);
  mkdirSync(baselineRun);
  const run = { epoch: 2, batchInEpoch: 0, step: 4, epochLoss: { sum: 0, count: 0 }, run: {} };
  await saveCheckpoint(join(sepbnRun, 'last.safetensors'), buildModel(modelConfig('sepbn', 32, 3)), undefined, { ...run, temperature: 1 });
  await saveCheckpoint(join(baselineRun, 'last.safetensors'), buildModel(modelConfig('baseline', 32, 3)), undefined, { ...run, temperature: 29 });
  const log = [
    { epoch: 1, lr: 1e-3, temperature: 30, train_loss: 40, test_nme: 0.5, seconds: 1 },
    { epoch: 2, lr: 5e-4, temperature: 29, train_loss: 20, test_nme: 0.3, seconds: 1 },
  ];
  writeFileSync(join(sepbnRun, 'log.jsonl'), log.map((l) => JSON.stringify(l) + '\n').join(''));
});
t.teardown(() => {
  shutdown();
  rmSync(dir, { recursive: true, force: true });
});

interface Prediction {
  image: string;
  width: number;
  height: number;
  drawing: string;
  landmarks: Array<[number, number]>;
}

function predict(args: string[]): Prediction[] {
  const r = node(['cli/predict.js', '--weights', join(sepbnRun, 'last.safetensors'), '--json', '--backend', 'cpu', ...args]);
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as Prediction[];
}

/** The colour a drawing shows at a point's centre pixel: that of the last-drawn dot covering it. */
function expectedColour(landmarks: Array<[number, number]>, scale: number, x: number, y: number): readonly number[] {
  const colours = landmarkColours();
  let colour: readonly number[] = [];
  landmarks.forEach(([lx, ly], i) => {
    if (Math.hypot(x + 0.5 - lx * scale, y + 0.5 - ly * scale) <= dotRadius(scale)) colour = colours[i];
  });
  return colour;
}

function checkDots(t: Test, result: Prediction, scale: number): void {
  const png = readPng(result.drawing);
  t.equal(png.width, result.width * scale, `drawn ${scale} times as wide as the image`);
  t.ok(png.height > result.height * scale, 'with a legend strip below the image');
  let checked = 0;
  let wrong = 0;
  for (const [lx, ly] of result.landmarks) {
    const x = Math.floor(lx * scale);
    const y = Math.floor(ly * scale);
    if (x < 0 || y < 0 || x >= png.width || y >= result.height * scale) continue;
    checked++;
    if (rgbAt(png, x, y).join() !== expectedColour(result.landmarks, scale, x, y).join()) wrong++;
  }
  t.ok(checked > 90, `${checked} of 98 points inside the image`);
  t.equal(wrong, 0, 'each point\'s pixel shows its dot colour');
}

t.test('predict: a prepared crop, drawn 3x with dots where --json says', async (t) => {
  const [sample] = readWflw256(join(data, 'test.txt'));
  const [result] = predict([sample.imageFile, '--out', join(dir, 'drawings')]);
  t.equal(result.landmarks.length, 98);
  t.equal(result.drawing, join(dir, 'drawings', `${sample.imageFile.split('/').at(-1)!.replace('.png', '')}.landmarks.png`));
  checkDots(t, result, 3);
});

t.test('predict --box: the photograph\'s landmarks are the prepared crop\'s prediction mapped back', async (t) => {
  const face = readWflwAnnotations(wflwAnnotationFile(raw, 'test')).faces[0];
  const [sample] = readWflw256(join(data, 'test.txt'));
  const [fromCrop] = predict([sample.imageFile, '--out', join(dir, 'drawings')]);
  const [fromPhoto] = predict([wflwImageFile(raw, face), '--box', face.box.join(','), '--out', join(dir, 'drawings')]);
  const cropToPhoto = mat2d.invert(mat2d.create(), sourceToCrop(cropRegion(face.box)))!;
  let worst = 0;
  fromCrop.landmarks.forEach(([x, y], i) => {
    const px = cropToPhoto[0] * x + cropToPhoto[2] * y + cropToPhoto[4];
    const py = cropToPhoto[1] * x + cropToPhoto[3] * y + cropToPhoto[5];
    worst = Math.max(worst, Math.abs(px - fromPhoto.landmarks[i][0]), Math.abs(py - fromPhoto.landmarks[i][1]));
  });
  t.ok(worst < 1e-3, `largest difference ${worst.toExponential(2)} px`);
  const side = 2 * Math.ceil(Math.max(face.box[2] - face.box[0], face.box[3] - face.box[1]) / 2);
  checkDots(t, fromPhoto, Math.ceil(READABLE_FACE_PX / side));
});

t.test('predict refuses what it cannot use', async (t) => {
  const face = readWflwAnnotations(wflwAnnotationFile(raw, 'test')).faces[0];
  const noBox = node(['cli/predict.js', '--weights', join(sepbnRun, 'last.safetensors'), wflwImageFile(raw, face), '--backend', 'cpu']);
  t.equal(noBox.status, 1);
  t.match(noBox.stderr, /not a 256x256 crop from cli\/prepare\.js; give the face box/);
  const badBox = node(['cli/predict.js', '--weights', join(sepbnRun, 'last.safetensors'), wflwImageFile(raw, face), '--box', '1,2,3', '--backend', 'cpu']);
  t.match(badBox.stderr, /--box expects four numbers/);
});

t.test('visualize: every figure, readable sizes, not blank', async (t) => {
  const out = join(dir, 'figures');
  const r = node(['cli/visualize.js', '--weights', join(sepbnRun, 'last.safetensors'), '--compare', join(baselineRun, 'last.safetensors'), '--data', data, '--out', out, '--backend', 'cpu']);
  t.equal(r.status, 0, r.stderr);
  const names = ['sepbn-parameters.png', 'sepbn-attention.png', 'training-curves.png', 'ced.png'];
  t.same(r.stdout.trim().split('\n'), names.map((n) => join(out, n)), 'the four files, listed on stdout');
  for (const name of names) {
    const png = readPng(join(out, name));
    const { ink, colours } = inkAndColours(png);
    t.ok(png.width >= 800 && png.height >= 500, `${name} is ${png.width}x${png.height}`);
    t.ok(ink > 0.03 && colours > 3, `${name} is not blank: ${(100 * ink).toFixed(1)} % ink, ${colours} colours`);
  }
  const attention = readPng(join(out, 'sepbn-attention.png'));
  let set1 = 0;
  for (let o = 0; o < attention.data.length; o += 4) if (attention.data.subarray(o, o + 3).join() === SERIES_COLOURS[0].join()) set1++;
  t.ok(set1 > 6 * 1000, `set 1 drawn in each of the six layer columns (${set1} pixels)`);
  const ced = readPng(join(out, 'ced.png'));
  t.same([ced.width, ced.height], [800, 560]);
});

t.test('visualize: a baseline gets the CED chart and a note instead of the SepBN figures', async (t) => {
  const out = join(dir, 'baseline-figures');
  const r = node(['cli/visualize.js', '--weights', join(baselineRun, 'last.safetensors'), '--data', data, '--out', out, '--backend', 'cpu']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stderr, /baseline-run has no SepBN layers: no sepbn-parameters\.png or sepbn-attention\.png/);
  t.match(r.stderr, /no log\.jsonl beside/);
  t.same(r.stdout.trim().split('\n'), [join(out, 'ced.png')]);
});
