// `node cli/test.js` end to end on faces whose scores are worked out by hand: every face is a known
// shape moved by a known shift, so NME is |shift| / inter-ocular distance (points 60 and 72, 0-based),
// and FR@0.1 and AUC@0.1 follow from the NMEs. With --weights the network is made to predict one
// fixed shape (fc2 weights zero, its bias the shape), so the scores also pin down the map from the
// network's 128 frame back to the 256 crop (the test crop offset, 64 px).
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERIES_COLOURS } from '../../data/figures/plot.ts';
import { decodeImage, encodePng } from '../../data/image-io.ts';
import { createRgbImage } from '../../data/rgb-image.ts';
import { wflwTopology } from '../../data/topology.ts';
import { formatWflw256Line } from '../../data/wflw256.ts';
import { assignValues } from '../../engine/assign.ts';
import { saveCheckpoint } from '../../models/checkpoint.ts';
import { buildModel, modelConfig } from '../../models/registry.ts';
import { runCommand } from './run-command.ts';

const dir = mkdtempSync(join(tmpdir(), 'sepbn-test-command-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const node = runCommand;

interface Score {
  name: string;
  count: number;
  /** NME and FR in percent, as the keys say; AUC a fraction. */
  nmePercent: number;
  failureRatePercent: number;
  nonFinite: number;
  auc: number;
}

/** Runs the command with --json and returns its scores by set name. */
function scores(args: string[]): Map<string, Score> {
  const r = node(['cli/test.js', ...args, '--json']);
  if (r.status !== 0) throw new Error(`cli/test.js ${args.join(' ')} failed: ${r.stderr}`);
  return new Map((JSON.parse(r.stdout) as Score[]).map((s) => [s.name, s]));
}

const INTEROCULAR = 56;
/**
 * The shape every face is built from, in the 256 crop frame: the mean face (whose 128 frame is the
 * crop's central half) rounded to quarter pixels, which the files and F32 hold exactly, with the
 * outer eye corners 60 and 72 set 56 px apart on one row.
 */
function baseShape(): Float64Array {
  const shape = Float64Array.from(wflwTopology().meanShape128.flat(), (v) => Math.round((v + 64) * 4) / 4);
  shape.set([98.5, 111.75], 2 * 60);
  shape.set([98.5 + INTEROCULAR, 111.75], 2 * 72);
  return shape;
}

function shifted(shape: Float64Array, dx: number, dy: number): Float64Array {
  return shape.map((v, k) => v + (k % 2 === 0 ? dx : dy));
}

function writeAnnotations(file: string, faces: Float64Array[], imagePaths = faces.map((_, i) => `images/face${i}.png`)): string {
  writeFileSync(file, faces.map((f, i) => formatWflw256Line(f, imagePaths[i]) + '\n').join(''));
  return file;
}

function writePredictions(file: string, faces: Float64Array[]): string {
  writeFileSync(file, faces.map((f) => Array.from(f).join(' ') + '\n').join(''));
  return file;
}

/**
 * AUC@0.1 by hand: a face with NME e has CED 1 on [e, 0.1], so it adds (0.1 - e) / 0.1 of area
 * (nothing when e >= 0.1); the set's AUC is the mean over its faces. The command integrates the CED
 * sampled every 1e-4 with Simpson's rule, which misses a step by at most 2/3 of a sample step:
 * 6.7e-4 of AUC.
 */
function aucByHand(nmes: number[]): number {
  return nmes.reduce((sum, e) => sum + Math.max(0, 1 - e / 0.1), 0) / nmes.length;
}
const AUC_TOLERANCE = 1e-3;

t.test('--predictions: truth scores 0, and known shifts score |shift| / 56', async (t) => {
  const base = baseShape();
  const half = base.map((v) => v / 2); // the same face at half size: inter-ocular 28
  const truth = [base, half, base, base];
  const annotations = writeAnnotations(join(dir, 'truth.txt'), truth);

  const perfect = scores(['--predictions', writePredictions(join(dir, 'perfect.txt'), truth), '--annotations', annotations]).get('predictions')!;
  t.same({ count: perfect.count, nme: perfect.nmePercent, failureRate: perfect.failureRatePercent }, { count: 4, nme: 0, failureRate: 0 }, 'predictions equal to the truth: NME 0, FR 0');
  t.ok(Math.abs(perfect.auc - 1) < 1e-12, `CED is 1 from 0 on: AUC 1 (got ${perfect.auc})`);

  // Shifts (3, 4), (0.6, 0.8), (-6, -8), (0, -2.8): every point 5, 1, 10, 2.8 px off, so the NMEs
  // are 5/56 = 0.0893, 1/28 = 0.0357, 10/56 = 0.1786 (the one failure), 2.8/56 = 0.05.
  const shifts: Array<[number, number]> = [[3, 4], [0.6, 0.8], [-6, -8], [0, -2.8]];
  const nmes = [5 / 56, 1 / 28, 10 / 56, 2.8 / 56];
  const predictions = writePredictions(join(dir, 'shifted.txt'), truth.map((f, i) => shifted(f, ...shifts[i])));
  const ced = join(dir, 'ced.png');
  const r = node(['cli/test.js', '--predictions', predictions, '--annotations', annotations, '--ced', ced]);
  t.equal(r.status, 0, r.status === 0 ? 'the command succeeds' : r.stderr);
  // Mean NME (5 + 2 + 10 + 2.8) / 56 / 4 = 8.84 %, FR 1 of 4 = 25 %.
  t.match(r.stdout, /^predictions\s+4\s+8\.84\s+25\.00\s+0\.31\d\d$/m, 'the table prints NME % and FR % by hand');

  const s = scores(['--predictions', predictions, '--annotations', annotations]).get('predictions')!;
  t.ok(Math.abs(s.nmePercent - (100 * (5 + 2 + 10 + 2.8)) / 56 / 4) < 1e-10, `NME ${s.nmePercent} %`);
  t.equal(s.failureRatePercent, 25, 'FR: only 10/56 exceeds 0.1');
  // (1 - 50/56) + (1 - 10/28) + 0 + (1 - 0.5) = 1.25 over 4 faces: 0.3125.
  t.ok(Math.abs(aucByHand(nmes) - 0.3125) < 1e-12 && Math.abs(s.auc - 0.3125) < AUC_TOLERANCE, `AUC ${s.auc} vs 0.3125 by hand`);

  const png = readFileSync(ced);
  t.same([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], '--ced writes a PNG');
  const image = decodeImage(png);
  t.ok(image.width >= 200 && image.height >= 150, `of a chart's size (${image.width}x${image.height})`);
  // Black ink (axes, ticks, text) and the first series colour (the one curve) on white.
  const count = ([r, g, b]: readonly number[]) => {
    let n = 0;
    for (let p = 0; p < image.data.length; p += 3) if (image.data[p] === r && image.data[p + 1] === g && image.data[p + 2] === b) n++;
    return n;
  };
  const ink = count([0, 0, 0]);
  const curve = count(SERIES_COLOURS[0]);
  t.ok(ink > 1000 && curve > 100, `axes, text and a curve are drawn (${ink} ink pixels, ${curve} curve pixels)`);
});

t.test('--predictions: nan and inf score as failed faces, counted as a network\'s non-finite predictions are', async (t) => {
  const base = baseShape();
  const truth = [base, base, base];
  const annotations = writeAnnotations(join(dir, 'three.txt'), truth);
  const rows = truth.map((f) => Array.from(f, String));
  rows[1][7] = 'nan';
  rows[2][0] = '-inf';
  rows[2][1] = 'Infinity';
  const predictions = join(dir, 'non-finite.txt');
  writeFileSync(predictions, rows.map((r) => r.join(' ') + '\n').join(''));
  const s = scores(['--predictions', predictions, '--annotations', annotations]).get('predictions')!;
  t.same({ nonFinite: s.nonFinite, failureRate: s.failureRatePercent, nme: s.nmePercent }, { nonFinite: 2, failureRate: 100 * (2 / 3), nme: null }, 'two faces non-finite: both fail, the mean is infinite');
  const table = node(['cli/test.js', '--predictions', predictions, '--annotations', annotations]);
  t.equal(table.status, 0, table.stderr);
  t.match(table.stdout, /^predictions\s+3\s+inf\s+66\.67\s+0\.\d{4}\s+2\s+0\.00$/m, 'the non-finite column and the NME of the finite face');
  const word = join(dir, 'word.txt');
  writeFileSync(word, rows.map((r) => r.join(' ').replace('nan', 'many') + '\n').join(''));
  const refused = node(['cli/test.js', '--predictions', word, '--annotations', annotations]);
  t.equal(refused.status, 1);
  t.match(refused.stderr, new RegExp(`^${word}:2: value 8 \\("many"\\) is not a number`), 'a word that is no number is still refused by file and line');
});

t.test('--predictions --layout planar, and a warning when the other layout fits far better', async (t) => {
  const base = baseShape();
  const truth = [shifted(base, 1, 0), shifted(base, 0, 2), base];
  const annotations = writeAnnotations(join(dir, 'layout.txt'), truth);
  const planar = join(dir, 'planar.txt');
  // 98 x then 98 y, as the annotation files list them.
  writeFileSync(planar, truth.map((f) => [...f.filter((_, k) => k % 2 === 0), ...f.filter((_, k) => k % 2 === 1)].join(' ') + '\n').join(''));
  const right = node(['cli/test.js', '--predictions', planar, '--annotations', annotations, '--layout', 'planar', '--json']);
  t.equal(right.status, 0, right.stderr);
  t.equal(JSON.parse(right.stdout)[0].nmePercent, 0, 'read as planar, the file is the truth');
  t.notMatch(right.stderr, /warning/, 'no warning in the right layout');
  const wrong = node(['cli/test.js', '--predictions', planar, '--annotations', annotations]);
  t.equal(wrong.status, 0, wrong.stderr);
  t.match(wrong.stderr, new RegExp(`warning: ${planar}: read as x y interleaved \\(--layout xy\\) its faces score a median NME of \\d+\\.\\d\\d %, read as 98 x then 98 y 0\\.00 %; if the file is in that layout, give --layout planar`));
  const xy = writePredictions(join(dir, 'xy.txt'), truth.map((f) => shifted(f, 2, 1)));
  const plain = node(['cli/test.js', '--predictions', xy, '--annotations', annotations]);
  t.notMatch(plain.stderr, /warning/, 'a right layout with errors draws no warning');
  const bad = node(['cli/test.js', '--predictions', xy, '--annotations', annotations, '--layout', 'yx']);
  t.equal(bad.status, 1);
  t.match(bad.stderr, /--layout must be xy or planar, got "yx"/);
});

t.test('--predictions: subset rows from the files beside a WFLW256 file, and from raw WFLW attribute flags', async (t) => {
  const base = baseShape();
  const truth = [shifted(base, 3, 4), base, shifted(base, -6, -8), shifted(base, 0, -2.8)];
  const nmes = [5 / 56, 0, 10 / 56, 2.8 / 56];
  const predictions = writePredictions(join(dir, 'subset-predictions.txt'), truth.map(() => base));
  const expected: Record<string, number[]> = { predictions: nmes, pose: [nmes[0], nmes[2]], blur: [nmes[1], nmes[2], nmes[3]] };
  const check = (got: Map<string, Score>, what: string) => {
    t.same([...got.keys()], Object.keys(expected), `${what}: every face, then each subset with a face`);
    for (const [name, setNmes] of Object.entries(expected)) {
      const mean = (100 * setNmes.reduce((a, b) => a + b)) / setNmes.length;
      t.ok(Math.abs(got.get(name)!.nmePercent - mean) < 1e-9, `${what}, ${name}: NME ${got.get(name)!.nmePercent} % vs ${mean} % by hand`);
      t.equal(got.get(name)!.count, setNmes.length);
    }
  };

  const folder = join(dir, 'subsets256');
  mkdirSync(folder);
  const test = writeAnnotations(join(folder, 'test.txt'), truth);
  writeAnnotations(join(folder, 'test_pose.txt'), [truth[0], truth[2]], ['images/face0.png', 'images/face2.png']);
  writeAnnotations(join(folder, 'test_blur.txt'), [truth[1], truth[2], truth[3]], ['images/face1.png', 'images/face2.png', 'images/face3.png']);
  writeFileSync(join(folder, 'test_makeup.txt'), '');
  check(scores(['--predictions', predictions, '--annotations', test]), 'WFLW256 with subset files');

  // Raw WFLW: the same faces with a face box and the six flags (pose, expression, illumination, makeup, occlusion, blur).
  const flags = [[1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1], [1, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 1]];
  const raw = join(dir, 'list_98pt_rect_attr_test.txt');
  writeFileSync(raw, truth.map((f, i) => [...Array.from(f), 60, 60, 200, 200, ...flags[i], `event/face${i}.jpg`].join(' ') + '\n').join(''));
  check(scores(['--predictions', predictions, '--annotations', raw]), 'raw WFLW with attribute flags');
});

t.test('--predictions: a face whose eye corners coincide is refused by name', async (t) => {
  const base = baseShape();
  const collapsed = base.slice();
  collapsed.set(base.subarray(2 * 60, 2 * 60 + 2), 2 * 72);
  const faces = [base, collapsed];
  const r = node(['cli/test.js', '--predictions', writePredictions(join(dir, 'any.txt'), faces), '--annotations', writeAnnotations(join(dir, 'collapsed.txt'), faces)]);
  t.equal(r.status, 1, 'the command fails');
  t.match(r.stderr, /face 1 has coincident interocular points, NME is undefined/, 'the second face (0-based 1) is named');
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

t.test('--weights: a network that always predicts one shape scores as worked out by hand, subsets included', async (t) => {
  // The prediction, in the 256 crop frame, is the base shape: the network outputs base - 64 in its
  // 128 frame, and the command adds back the test crop offset (256 - 128) / 2 = 64.
  const base = baseShape();
  const model = buildModel(modelConfig('baseline', 32, 0));
  assignValues(model.fc2.weight, new Float64Array(model.fc2.weight.size));
  assignValues(model.fc2.bias, base.map((v) => v - 64));
  const weights = join(dir, 'constant.safetensors');
  await saveCheckpoint(weights, model, undefined, { epoch: 0, batchInEpoch: 0, step: 0, temperature: 1, epochLoss: { sum: 0, count: 0 }, run: {} });

  // Face 3 is the base shape with point 72 moved 14 px right: inter-ocular 70, one point of 98 off
  // by 14, NME 14 / 98 / 70 = 1/490 (normalised by the truth's eyes, not the prediction's 56).
  const wideEyes = base.slice();
  wideEyes[2 * 72] += 14;
  const truth = [shifted(base, 3, 4), base, shifted(base, -6, -8), wideEyes];
  const nmes = [5 / 56, 0, 10 / 56, 1 / 490];
  const data = join(dir, 'faces256');
  mkdirSync(join(data, 'images'), { recursive: true });
  // The network ignores the pixels; the loader still reads a 256x256 crop per face.
  truth.forEach((_, i) => writeFileSync(join(data, 'images', `face${i}.png`), encodePng(createRgbImage(256, 256))));
  const test = writeAnnotations(join(data, 'test.txt'), truth);
  writeFileSync(join(data, 'train.txt'), readFileSync(test));
  const subset = (name: string, faces: number[]) => writeAnnotations(join(data, `test_${name}.txt`), faces.map((i) => truth[i]), faces.map((i) => `images/face${i}.png`));
  subset('pose', [0, 2]);
  subset('expression', [1, 3]);
  writeFileSync(join(data, 'test_blur.txt'), '');

  // On the CPU backend: the offset is the same on both, and this keeps the run a few seconds.
  // Batches of 3 make the last batch partial.
  const s = scores(['--weights', weights, '--data', data, '--batch', '3', '--backend', 'cpu']);
  t.same([...s.keys()], ['test', 'pose', 'expression'], 'the test set, then each non-empty subset');
  const expected: Record<string, number[]> = { test: nmes, pose: [nmes[0], nmes[2]], expression: [nmes[1], nmes[3]] };
  for (const [name, setNmes] of Object.entries(expected)) {
    const got = s.get(name)!;
    const nme = setNmes.reduce((a, b) => a + b) / setNmes.length;
    const failureRate = setNmes.filter((e) => e > 0.1).length / setNmes.length;
    t.equal(got.count, setNmes.length, `${name}: ${setNmes.length} faces`);
    t.ok(Math.abs(got.nmePercent - 100 * nme) < 1e-10, `${name}: NME ${got.nmePercent} % vs ${100 * nme} % by hand`);
    t.equal(got.failureRatePercent, 100 * failureRate, `${name}: FR ${100 * failureRate} %`);
    t.ok(Math.abs(got.auc - aucByHand(setNmes)) < AUC_TOLERANCE, `${name}: AUC ${got.auc} vs ${aucByHand(setNmes)} by hand`);
  }
});
