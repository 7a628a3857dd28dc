import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readImage } from '../../data/image-io.ts';
import { Random } from '../../engine/random.ts';
import { drawSyntheticFace } from '../../data/synthetic-face.ts';
import { writeSyntheticWflw } from '../../data/synthetic-dataset.ts';
import { readWflwAnnotations, wflwAnnotationFile, wflwImageFile } from '../../data/wflw-annotations.ts';

t.test('the synthetic set is a raw WFLW set: 207-token lines, PNG images, a train/test split', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'synth-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  t.same(writeSyntheticWflw(root, { count: 8, testFraction: 0.25, seed: 3, size: 96 }), { train: 6, test: 2 });
  const train = readWflwAnnotations(wflwAnnotationFile(root, 'train'));
  const test = readWflwAnnotations(wflwAnnotationFile(root, 'test'));
  t.same([train.problems, test.problems], [[], []]);
  t.same([train.faces.length, test.faces.length], [6, 2]);
  for (const face of [...train.faces, ...test.faces]) {
    t.ok(face.imagePath.endsWith('.png') && existsSync(wflwImageFile(root, face)), face.imagePath);
    const [x0, y0, x1, y1] = face.box;
    const inside = face.landmarksPx.every((v, k) => (k % 2 === 0 ? v >= x0 - 1e-3 && v <= x1 + 1e-3 : v >= y0 - 1e-3 && v <= y1 + 1e-3));
    t.ok(inside, 'the face box holds every landmark');
  }
  const again = mkdtempSync(join(tmpdir(), 'synth-'));
  t.teardown(() => rmSync(again, { recursive: true, force: true }));
  writeSyntheticWflw(again, { count: 8, testFraction: 0.25, seed: 3, size: 96 });
  t.equal(readFileSync(wflwAnnotationFile(again, 'train'), 'utf8'), readFileSync(wflwAnnotationFile(root, 'train'), 'utf8'), 'same seed, same set');
  t.same(readImage(wflwImageFile(again, train.faces[0])).data, readImage(wflwImageFile(root, train.faces[0])).data);
});

t.test('pupils are drawn dark where their landmarks are', async (t) => {
  let checked = 0;
  for (let index = 0; index < 40 && checked < 10; index++) {
    const face = drawSyntheticFace(new Random(5, index), 160);
    // Occluders, blur and strong side light may hide or wash out a pupil; the rest must show it.
    if (face.attributes.occlusion || face.attributes.blur || face.attributes.illumination) continue;
    for (const point of [96, 97]) {
      const x = Math.floor(face.landmarksPx[2 * point]);
      const y = Math.floor(face.landmarksPx[2 * point + 1]);
      const o = 3 * (y * 160 + x);
      const brightness = (face.image.data[o] + face.image.data[o + 1] + face.image.data[o + 2]) / 3;
      t.ok(brightness < 60, `face ${index} point ${point}: brightness ${brightness.toFixed(0)}`);
    }
    checked++;
  }
  t.equal(checked, 10);
});
