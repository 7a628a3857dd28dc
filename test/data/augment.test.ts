import t from 'tap';
import { augmentSample, drawAugmentParams, flipLandmarks, INPUT_SIZE, NO_AUGMENTATION, PAPER_AUGMENTATION, type AugmentParams } from '../../data/augment.ts';
import { createRgbImage } from '../../data/rgb-image.ts';
import { Random } from '../../engine/random.ts';
import { wflwTopology } from '../../data/topology.ts';

// Points of the mean shape at least 20 px apart: contour ends and chin, outer eye corners, nose, lower lip.
const DRAWN = [0, 16, 32, 60, 72, 54, 85];

/** The mean face placed in the 256 crop frame (its 128 frame is the crop's central half), on pixel centres. */
function meanFace256(): Float64Array {
  const landmarks = new Float64Array(196);
  wflwTopology().meanShape128.forEach(([x, y], k) => landmarks.set([Math.floor(x + 64) + 0.5, Math.floor(y + 64) + 0.5], 2 * k));
  return landmarks;
}

/** A black 256 crop with a bright 3x3 dot centred on each drawn landmark's pixel. */
function dotImage(landmarks: Float64Array) {
  const image = createRgbImage(256, 256);
  for (const k of DRAWN) {
    const i = Math.floor(landmarks[2 * k]);
    const j = Math.floor(landmarks[2 * k + 1]);
    for (let dj = -1; dj <= 1; dj++) for (let di = -1; di <= 1; di++) image.data.fill(255, 3 * ((j + dj) * 256 + i + di), 3 * ((j + dj) * 256 + i + di) + 3);
  }
  return image;
}

/** Intensity-weighted centre of the red channel near (x, y), in continuous pixel coordinates. */
function brightCentre(images: Float32Array, x: number, y: number, radius = 6): [number, number] {
  let sum = 0;
  let sx = 0;
  let sy = 0;
  for (let v = Math.floor(y - radius); v <= Math.ceil(y + radius); v++) {
    for (let u = Math.floor(x - radius); u <= Math.ceil(x + radius); u++) {
      if (u < 0 || v < 0 || u >= INPUT_SIZE || v >= INPUT_SIZE) continue;
      const value = images[v * INPUT_SIZE + u] * 128 + 127.5;
      sum += value;
      sx += value * (u + 0.5);
      sy += value * (v + 0.5);
    }
  }
  return [sx / sum, sy / sum];
}

t.test('image and landmarks move together under any augmentation, the flip renumbering included', async (t) => {
  const landmarks = meanFace256();
  const image = dotImage(landmarks);
  const { flip } = wflwTopology();
  const everything = { ...PAPER_AUGMENTATION, probability: 1 };
  const cases: AugmentParams[] = [NO_AUGMENTATION, { ...NO_AUGMENTATION, flip: true }];
  for (let seed = 0; seed < 12; seed++) cases.push(drawAugmentParams(new Random(seed), seed < 6 ? everything : PAPER_AUGMENTATION));
  cases.push({ rotationRad: (25 * Math.PI) / 180, shearX: 0.3, shearY: -0.3, boxJitter: [0.15, -0.15, -0.15, 0.15], flip: true });
  let worst = 0;
  let checked = 0;
  for (const params of cases) {
    const images = new Float32Array(3 * INPUT_SIZE * INPUT_SIZE);
    const moved = new Float32Array(196);
    augmentSample(image, landmarks, params, images, 0, moved, 0);
    for (let j = 0; j < 98; j++) {
      // Output point j shows source point flip[j] when mirrored.
      if (!DRAWN.includes(params.flip ? flip[j] : j)) continue;
      const [x, y] = [moved[2 * j], moved[2 * j + 1]];
      // A dot pushed (partly) out of the frame cannot be found whole.
      if (Math.min(x, y) < 4 || Math.max(x, y) > INPUT_SIZE - 4) continue;
      checked++;
      const [cx, cy] = brightCentre(images, x, y);
      worst = Math.max(worst, Math.hypot(cx - x, cy - y));
    }
  }
  t.ok(checked > 80, `${checked} dots checked`);
  // Dots sit on pixel centres, so the pipeline should be far tighter than 1 px; a half-pixel slip fails.
  t.ok(worst < 0.25, `dots found within 0.25 px of their transformed landmarks (worst ${worst.toFixed(3)} px)`);
});

t.test('flipping twice is the identity, with the 98-point permutation', async (t) => {
  const { flip } = wflwTopology();
  t.ok(flip.every((partner, i) => flip[partner] === i), 'the permutation is an involution');
  const landmarks = meanFace256();
  t.ok(flipLandmarks(flipLandmarks(landmarks, 256), 256).every((v, k) => Math.abs(v - landmarks[k]) < 1e-12));
  const once = flipLandmarks(landmarks, 256);
  t.ok(Math.abs(once[2 * 72] - (256 - landmarks[2 * 60])) < 1e-12, 'point 60 mirrored becomes point 72');
  // Through the full pipeline: a flipped sample's mirrored shape matches the unflipped sample.
  const image = dotImage(landmarks);
  const out = new Float32Array(3 * INPUT_SIZE * INPUT_SIZE);
  const plain = new Float32Array(196);
  const flipped = new Float32Array(196);
  augmentSample(image, landmarks, NO_AUGMENTATION, out, 0, plain, 0);
  augmentSample(image, landmarks, { ...NO_AUGMENTATION, flip: true }, out, 0, flipped, 0);
  const back = flipLandmarks(Float64Array.from(flipped), INPUT_SIZE);
  t.ok(back.every((v, k) => Math.abs(v - plain[k]) < 1e-4));
});

t.test('test mode is the plain central 128 crop, normalised as (v - 127.5) / 128', async (t) => {
  const image = createRgbImage(256, 256);
  for (let k = 0; k < image.data.length; k++) image.data[k] = (k * 31) % 256;
  const images = new Float32Array(3 * INPUT_SIZE * INPUT_SIZE);
  const moved = new Float32Array(196);
  const landmarks = meanFace256();
  augmentSample(image, landmarks, NO_AUGMENTATION, images, 0, moved, 0);
  let worst = 0;
  for (let c = 0; c < 3; c++) {
    for (let v = 0; v < INPUT_SIZE; v++) {
      for (let u = 0; u < INPUT_SIZE; u++) {
        const expected = (image.data[3 * ((v + 64) * 256 + u + 64) + c] - 127.5) / 128;
        worst = Math.max(worst, Math.abs(images[(c * INPUT_SIZE + v) * INPUT_SIZE + u] - expected));
      }
    }
  }
  t.ok(worst < 1e-5, `pixels equal the crop's central region (worst ${worst})`);
  t.ok(moved.every((v, k) => Math.abs(v - (landmarks[k] - 64)) < 1e-4), 'landmarks shift by -64');
});

t.test('each transform is drawn with probability 1/2', async (t) => {
  let rotated = 0;
  let flipped = 0;
  const draws = 4000;
  for (let i = 0; i < draws; i++) {
    const p = drawAugmentParams(new Random(9, i), PAPER_AUGMENTATION);
    if (p.rotationRad !== 0) rotated++;
    if (p.flip) flipped++;
    if (Math.abs(p.rotationRad) > (25 * Math.PI) / 180 || Math.abs(p.shearX) > 0.3 || p.boxJitter.some((j) => Math.abs(j) > 0.15)) t.fail('parameter out of range');
  }
  t.ok(Math.abs(rotated / draws - 0.5) < 0.04 && Math.abs(flipped / draws - 0.5) < 0.04, `rotated ${rotated}, flipped ${flipped} of ${draws}`);
});
