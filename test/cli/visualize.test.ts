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
import { writeSafetensors } from '../../nn/safetensors.ts';
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
    { epoch: 1, lr: 1e-3, temperature: 30, train_loss: 40, test_nme_percent: 50, seconds: 1, images_per_second: 10 },
    { epoch: 2, lr: 5e-4, temperature: 29, train_loss: 20, test_nme_percent: 30, seconds: 1, images_per_second: 10 },
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
  /** The face box given for the image; null for a prepared crop. */
  box: [number, number, number, number] | null;
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
  t.match(noBox.stderr, /not a 256x256 crop from cli\/prepare\.js, so it needs its face box: give one face box per image/);
  const badBox = node(['cli/predict.js', '--weights', join(sepbnRun, 'last.safetensors'), wflwImageFile(raw, face), '--box', '1,2,3', '--backend', 'cpu']);
  t.match(badBox.stderr, /--box 1,2,3 \(box 1, for .*\): expected four numbers x0,y0,x1,y1/);
});

t.test('predict: one box per image, from --box in image order or --boxes, each drawn on its image', async (t) => {
  const faces = readWflwAnnotations(wflwAnnotationFile(raw, 'test')).faces.slice(0, 2);
  const photos = faces.map((f) => wflwImageFile(raw, f));
  const [crop] = readWflw256(join(data, 'test.txt'));
  const out = join(dir, 'boxes');
  const both = predict([...photos, ...faces.flatMap((f) => ['--box', f.box.join(',')]), '--out', out]);
  t.same(both.map((r) => r.box), faces.map((f) => f.box), 'each image keeps its own box');
  const alone = predict([photos[1], '--box', faces[1].box.join(','), '--out', join(dir, 'alone')]);
  t.same(both[1].landmarks, alone[0].landmarks, 'the second image predicted with the second box, as when it is given alone');

  // The box, drawn white on black, runs round its rectangle (dots may cover a few of its pixels).
  const png = readPng(both[0].drawing);
  const scale = png.width / both[0].width;
  const [x0, y0, x1, y1] = faces[0].box.map((v) => Math.floor(v * scale));
  let white = 0;
  let edge = 0;
  for (let x = x0 + 2; x < x1 - 2; x++) for (const y of [y0, y1]) (edge++, rgbAt(png, x, y).join() === '255,255,255' && white++);
  for (let y = y0 + 2; y < y1 - 2; y++) for (const x of [x0, x1]) (edge++, rgbAt(png, x, y).join() === '255,255,255' && white++);
  t.ok(white > 0.8 * edge, `the box is drawn: ${white} of ${edge} edge pixels white`);

  const boxesFile = join(dir, 'boxes.txt');
  writeFileSync(boxesFile, `${faces[0].box.join(' ')}\n-\n`);
  const mixed = predict([photos[0], crop.imageFile, '--boxes', boxesFile, '--out', join(dir, 'mixed')]);
  t.same(mixed.map((r) => r.box), [faces[0].box, null], 'a box line for the photograph, - for the prepared crop');
  t.same(mixed[0].landmarks, both[0].landmarks, 'the same prediction as with --box');
});

t.test('predict: a box count that does not match, and a box on a prepared crop, say what to do', async (t) => {
  const faces = readWflwAnnotations(wflwAnnotationFile(raw, 'test')).faces.slice(0, 2);
  const photos = faces.map((f) => wflwImageFile(raw, f));
  const [crop] = readWflw256(join(data, 'test.txt'));
  const weights = ['cli/predict.js', '--weights', join(sepbnRun, 'last.safetensors'), '--backend', 'cpu', '--out', join(dir, 'refused')];
  const one = node([...weights, ...photos, '--box', faces[0].box.join(',')]);
  t.equal(one.status, 1);
  t.match(one.stderr, /^--box is given 1 time for 2 images: give one face box per image, in the order of the images: --box x0,y0,x1,y1 repeated, or --boxes FILE/);
  const boxesFile = join(dir, 'three-boxes.txt');
  writeFileSync(boxesFile, '1 1 9 9\n2 2 9 9\n3 3 9 9\n');
  t.match(node([...weights, ...photos, '--boxes', boxesFile]).stderr, new RegExp(`^${boxesFile} has 3 box lines for 2 images: give one face box per image`));
  const onCrop = node([...weights, crop.imageFile, '--box', faces[0].box.join(',')]);
  t.equal(onCrop.status, 1);
  t.match(onCrop.stderr, /is 256x256, a crop from cli\/prepare\.js whose face is already its central half, and the box .* would crop it again .*: give - as its box/);
  t.notMatch(onCrop.stderr, /\n\s+at /, 'no stack trace');
});

t.test('predict: every flag its messages name is one of its own', async (t) => {
  const flags = new Set(node(['cli/predict.js', '--help']).stdout.match(/--[a-z][a-z-]*/g));
  const face = readWflwAnnotations(wflwAnnotationFile(raw, 'test')).faces[0];
  const [crop] = readWflw256(join(data, 'test.txt'));
  // A state dict the network cannot be told from: no conv1.weight, no configuration.
  const stranger = join(dir, 'stranger.safetensors');
  writeSafetensors(stranger, [['x', { dtype: 'F32', shape: [1], data: Float32Array.of(1) }]]);
  const weights = join(sepbnRun, 'last.safetensors');
  const failures = [
    [],
    ['--weights', weights],
    ['--weights', weights, wflwImageFile(raw, face)],
    ['--weights', weights, crop.imageFile, '--box', '1,2,30,40'],
    ['--weights', weights, crop.imageFile, crop.imageFile],
    ['--weights', weights, crop.imageFile, '--interp', 'cubic'],
    ['--weights', stranger, crop.imageFile],
    ['--weights', join(baselineRun, 'log.jsonl'), crop.imageFile],
  ];
  for (const args of failures) {
    const r = node(['cli/predict.js', '--backend', 'cpu', '--out', join(dir, 'hints'), ...args]);
    t.equal(r.status === 0 ? 0 : 1, 1, `predict ${args.join(' ')} fails`);
    const named = r.stderr.match(/--[a-z][a-z-]*/g) ?? [];
    t.same(named.filter((f) => !flags.has(f)), [], `only predict's flags in: ${r.stderr.trim()}`);
  }
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
  t.equal(readPng(join(out, 'training-curves.png')).width, 2 * 640, 'four training charts, the SepBN temperature among them, two a row');
  const parameters = readPng(join(out, 'sepbn-parameters.png'));
  t.ok(parameters.width > 2 * 512, `sepbn-parameters.png has the values and their deviations side by side (${parameters.width} px)`);
});

t.test('visualize: a baseline\'s training curves have no temperature chart', async (t) => {
  const out = join(dir, 'baseline-curves');
  const r = node(['cli/visualize.js', '--weights', join(baselineRun, 'last.safetensors'), '--log', join(sepbnRun, 'log.jsonl'), '--data', data, '--out', out, '--backend', 'cpu']);
  t.equal(r.status, 0, r.stderr);
  t.equal(readPng(join(out, 'training-curves.png')).width, 3 * 640, 'three charts in a row: loss, NME, learning rate');
});

t.test('visualize: a baseline gets the CED chart and a note instead of the SepBN figures', async (t) => {
  const out = join(dir, 'baseline-figures');
  const r = node(['cli/visualize.js', '--weights', join(baselineRun, 'last.safetensors'), '--data', data, '--out', out, '--backend', 'cpu']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stderr, /baseline-run has no SepBN layers: no sepbn-parameters\.png or sepbn-attention\.png/);
  t.match(r.stderr, /no log\.jsonl beside/);
  t.same(r.stdout.trim().split('\n'), [join(out, 'ced.png')]);
});
