import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import jpeg from 'jpeg-js';
import { cropRegion } from '../../data/face-crop.ts';
import { encodePng, readImage } from '../../data/image-io.ts';
import { prepareWflw } from '../../data/prepare.ts';
import { createRgbImage } from '../../data/rgb-image.ts';
import { formatWflwLine, wflwAnnotationFile, type WflwFace } from '../../data/wflw-annotations.ts';
import { readWflw256 } from '../../data/wflw256.ts';

const NO_FLAGS = { pose: false, expression: false, illumination: false, makeup: false, occlusion: false, blur: false };

/** A 100x80 image whose pixel (x, y) is (x, y, 7), so a crop pixel tells where it was taken from. */
function coordinateImage() {
  const image = createRgbImage(100, 80);
  for (let y = 0; y < 80; y++) for (let x = 0; x < 100; x++) image.data.set([x, y, 7], 3 * (y * 100 + x));
  return image;
}

/** Landmark 0 at the box centre, landmark 1 at the box's top-left corner, the rest at the centre too. */
function faceLine(box: WflwFace['box'], imagePath: string, attributes = NO_FLAGS): string {
  const centre = [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2];
  const landmarksPx = new Float64Array(196);
  for (let p = 0; p < 98; p++) landmarksPx.set(centre, 2 * p);
  landmarksPx.set([box[0], box[1]], 2);
  return formatWflwLine({ landmarksPx, box, attributes, imagePath });
}

function write(file: string, data: string | Uint8Array) {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, data);
}

function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

t.test('crop geometry: the box centre lands at (128, 128), zero padding outside the image', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'wflw-raw-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const out = join(root, 'out');
  write(join(root, 'WFLW_images', '1--Event', 'face.png'), encodePng(coordinateImage()));
  // Box 40 x 30 px centred on (50, 35): squared to 40, the region is 80 px from (10, -5), scale 256/80.
  const box: WflwFace['box'] = [30, 20, 70, 50];
  write(wflwAnnotationFile(root, 'train'), faceLine(box, '1--Event/face.png') + '\n');
  write(wflwAnnotationFile(root, 'test'), faceLine(box, '1--Event/face.png', { ...NO_FLAGS, pose: true, blur: true }) + '\n');
  const report = prepareWflw({ wflwRoot: root, outDir: out, interpolation: 'nearest' });
  t.same(report.problems, []);
  t.same(report.faces, { train: 1, test: 1, test_pose: 1, test_expression: 0, test_illumination: 0, test_makeup: 0, test_occlusion: 0, test_blur: 1 });
  t.same(cropRegion(box), { x0: 10, y0: -5, size: 80 });
  t.same(cropRegion([0, 0, 41, 10]).size, 84, 'an odd long side is rounded up to even');

  const [sample] = readWflw256(join(out, 'train.txt'));
  t.equal(sample.imageFile, join(out, 'images/train/1--Event/face_1.png'));
  t.same([sample.landmarksPx[0], sample.landmarksPx[1]], [128, 128], 'box centre -> crop centre');
  t.same([sample.landmarksPx[2], sample.landmarksPx[3]], [64, 80], 'box corner: x on the central half, y by the squared box');
  const crop = readImage(sample.imageFile);
  t.same([crop.width, crop.height], [256, 256]);
  const pixel = (u: number, v: number) => Array.from(crop.data.subarray(3 * (v * 256 + u), 3 * (v * 256 + u) + 3));
  // Nearest: crop pixel (u, v) shows source pixel floor(10 + (u + 0.5) / 3.2), floor(-5 + (v + 0.5) / 3.2).
  t.same(pixel(128, 128), [50, 35, 7]);
  t.same(pixel(255, 200), [89, 57, 7]);
  t.same(pixel(10, 5), [0, 0, 0], 'above the image: zero padding');
  t.equal(readWflw256(join(out, 'test_blur.txt')).length, 1);
  t.equal(readWflw256(join(out, 'test_occlusion.txt')).length, 0);
  t.ok(existsSync(join(out, 'prepared.json')));

  const firstTrainFile = readFileSync(join(out, 'train.txt'), 'utf8');
  const again = prepareWflw({ wflwRoot: root, outDir: out, interpolation: 'nearest' });
  t.same([again.cropsWritten, again.cropsKept], [0, 2], 'a second run keeps the crops already written');
  t.equal(readFileSync(join(out, 'train.txt'), 'utf8'), firstTrainFile, 'and writes the same annotations');
});

t.test('JPEG input and bilinear resampling', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'wflw-jpeg-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const out = join(root, 'out');
  const rgba = new Uint8Array(64 * 48 * 4).fill(200);
  write(join(root, 'WFLW_images', '2--Jpeg', 'face.jpg'), jpeg.encode({ width: 64, height: 48, data: rgba }, 95).data);
  write(wflwAnnotationFile(root, 'train'), faceLine([20, 10, 44, 34], '2--Jpeg/face.jpg') + '\n');
  write(wflwAnnotationFile(root, 'test'), '');
  const report = prepareWflw({ wflwRoot: root, outDir: out, interpolation: 'bilinear' });
  t.same(report.problems, []);
  const crop = readImage(join(out, 'images/train/2--Jpeg/face_1.png'));
  const centre = 3 * (128 * 256 + 128);
  t.ok(Math.abs(crop.data[centre] - 200) <= 3, `grey 200 survives JPEG and resampling (got ${crop.data[centre]})`);
  t.equal(crop.data[0], 0, 'padding outside the image is zero');
});

t.test('bad lines, missing and corrupt images are reported by file and line; nothing half-written', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'wflw-bad-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const out = join(root, 'out');
  write(join(root, 'WFLW_images', '1--Event', 'good.png'), encodePng(coordinateImage()));
  const goodPng = encodePng(coordinateImage());
  write(join(root, 'WFLW_images', '1--Event', 'truncated.png'), goodPng.subarray(0, goodPng.length / 2));
  write(join(root, 'WFLW_images', '1--Event', 'garbage.jpg'), Buffer.from('this is not an image'));
  const box: WflwFace['box'] = [30, 20, 70, 50];
  const good = faceLine(box, '1--Event/good.png');
  const lines = [
    good,
    good.split(' ').slice(3).join(' '),
    faceLine(box, '1--Event/missing.png'),
    faceLine(box, '1--Event/truncated.png'),
    faceLine(box, '1--Event/garbage.jpg'),
    good.replace(/^\S+/, 'twelve'),
  ];
  write(wflwAnnotationFile(root, 'train'), lines.join('\n') + '\n');
  write(wflwAnnotationFile(root, 'test'), good + '\n');
  const trainFile = wflwAnnotationFile(root, 'train');
  const report = prepareWflw({ wflwRoot: root, outDir: out, interpolation: 'nearest' });
  const messages = report.problems.map((p) => p.message).sort();
  t.equal(messages.length, 5);
  t.match(messages.join('\n'), `${trainFile}:2: expected 207 tokens`);
  t.match(messages.join('\n'), `${trainFile}:6: token 1 ("twelve") is not a number`);
  t.match(messages.join('\n'), new RegExp(`${trainFile}:3: .*missing\\.png: cannot read image: no such file`));
  t.match(messages.join('\n'), new RegExp(`${trainFile}:4: .*truncated\\.png: corrupt or unsupported image`));
  t.match(messages.join('\n'), new RegExp(`${trainFile}:5: .*garbage\\.jpg: corrupt or unsupported image`));
  t.equal(report.faces.train, 1, 'the good face is kept');
  t.equal(readWflw256(join(out, 'train.txt')).length, 1);
  const written = allFiles(out).map((f) => f.slice(out.length + 1)).sort();
  t.same(written.filter((f) => f.includes('.tmp')), [], 'no temporary files left');
  t.same(written.filter((f) => f.endsWith('.png')), ['images/test/1--Event/good_1.png', 'images/train/1--Event/good_1.png'], 'no crops for the bad faces');
});
