// One synthetic face: the WFLW mean shape under random expression and pose, drawn so that every
// landmark sits on a visible feature (contour edge, brows, eye outlines, pupils, nose lines, lips).
import { ATTRIBUTES, type Attribute } from './wflw-annotations.ts';
import { boxBlur, fillEllipse, fillGradient, fillPolygon, strokePolyline, type Colour, type Points } from './figures/raster.ts';
import { createRgbImage, type RgbImage } from './rgb-image.ts';
import type { Random } from '../engine/random.ts';
import { wflwTopology } from './topology.ts';

export interface SyntheticFace {
  image: RgbImage;
  /** x y interleaved, image pixels. */
  landmarksPx: Float64Array;
  box: [number, number, number, number];
  attributes: Record<Attribute, boolean>;
}

type Shape = Array<[number, number]>;

function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, k) => first + k);
}

function part(name: string): number[] {
  const [first, last] = wflwTopology().parts[name];
  return range(first, last);
}

/** Weight 1 at the mouth's middle, 0 at its corners, so the lips open like lips. */
function mouthOpening(shape: Shape, indices: number[], amount: number): void {
  const left = shape[76][0];
  const right = shape[82][0];
  for (const k of indices) {
    const t = (shape[k][0] - left) / (right - left);
    shape[k][1] += amount * Math.sin(Math.PI * Math.min(1, Math.max(0, t)));
  }
}

function jitter(rng: Random, colour: Colour, spread: number): Colour {
  return colour.map((c) => Math.max(0, Math.min(255, Math.round(c + rng.uniform(-spread, spread))))) as unknown as Colour;
}

function shade(colour: Colour, factor: number): Colour {
  return colour.map((c) => Math.max(0, Math.min(255, Math.round(c * factor)))) as unknown as Colour;
}

const SKIN_TONES: Colour[] = [[236, 200, 170], [210, 160, 120], [170, 120, 85], [120, 80, 55], [245, 215, 190]];
const IRIS: Colour[] = [[70, 110, 160], [90, 60, 30], [60, 120, 70]];
const HAIR: Colour[] = [[40, 30, 20], [90, 60, 30], [200, 170, 110], [20, 20, 20], [130, 130, 130]];

export function drawSyntheticFace(rng: Random, size: number): SyntheticFace {
  const topology = wflwTopology();
  const shape: Shape = topology.meanShape128.map(([x, y]) => [x, y]);
  const attributes = Object.fromEntries(ATTRIBUTES.map((a) => [a, false])) as Record<Attribute, boolean>;

  // Expression, in the 128 frame: lower lips move down (or up to close), brows rise.
  const strongExpression = rng.chance(0.25);
  const opening = strongExpression ? rng.uniform(4, 12) : rng.uniform(-6.5, 2);
  mouthOpening(shape, [83, 84, 85, 86, 87, 93, 94, 95], opening);
  mouthOpening(shape, [83, 84, 85, 86, 87], Math.max(0, opening) * 0.3);
  const browRaise = strongExpression && rng.chance(0.5) ? rng.uniform(3, 7) : rng.uniform(0, 1.5);
  for (const k of [...part('right_eyebrow'), ...part('left_eyebrow')]) shape[k][1] -= browRaise;
  attributes.expression = strongExpression;

  // Pose: a yaw-like squash (inner features slide towards the turned side), then a similarity.
  const centre = shape.reduce((s, p) => [s[0] + p[0] / shape.length, s[1] + p[1] / shape.length], [0, 0]);
  const squash = rng.chance(0.3) ? rng.uniform(0.75, 0.9) : rng.uniform(0.92, 1);
  const slide = (1 - squash) * 40 * (rng.chance(0.5) ? 1 : -1);
  const contour = new Set(part('contour'));
  for (let k = 0; k < shape.length; k++) {
    shape[k][0] = centre[0] + (shape[k][0] - centre[0]) * squash + (contour.has(k) ? 0 : slide * (k >= 51 && k <= 59 ? 1 : 0.6));
  }
  const largeRotation = rng.chance(0.2);
  const angle = ((largeRotation ? rng.uniform(22, 40) : rng.uniform(-15, 15)) * Math.PI) / 180 * (rng.chance(0.5) ? 1 : -1);
  attributes.pose = largeRotation || squash < 0.9;
  const scale = (size * rng.uniform(0.38, 0.55)) / 100;
  const origin = [size * (0.5 + rng.uniform(-0.12, 0.12)), size * (0.5 + rng.uniform(-0.12, 0.12))];
  const cos = Math.cos(angle) * scale;
  const sin = Math.sin(angle) * scale;
  const place = ([x, y]: readonly [number, number]): [number, number] => {
    const dx = x - centre[0];
    const dy = y - centre[1];
    return [origin[0] + cos * dx - sin * dy, origin[1] + sin * dx + cos * dy];
  };
  const points = shape.map(place);
  const pick = (indices: number[]): Points => indices.map((k) => points[k]);

  // Background: a gradient with a few shapes of clutter.
  const image = createRgbImage(size, size);
  fillGradient(image, jitter(rng, [128, 128, 128], 110), jitter(rng, [128, 128, 128], 110));
  for (let n = rng.int(4); n > 0; n--) {
    fillEllipse(image, rng.uniform(0, size), rng.uniform(0, size), rng.uniform(5, size / 4), rng.uniform(5, size / 4), rng.uniform(0, Math.PI), jitter(rng, [128, 128, 128], 120));
  }

  // Head: hair, a forehead ellipse over the brows, the contour polygon, its edge a shade darker.
  const skin = jitter(rng, SKIN_TONES[rng.int(SKIN_TONES.length)], 15);
  const earLeft = points[0];
  const earRight = points[32];
  const headCentre: [number, number] = [(earLeft[0] + earRight[0]) / 2, (earLeft[1] + earRight[1]) / 2];
  const headHalfWidth = Math.hypot(earRight[0] - earLeft[0], earRight[1] - earLeft[1]) / 2;
  fillEllipse(image, headCentre[0], headCentre[1], headHalfWidth * 1.12, headHalfWidth * 1.05, angle, jitter(rng, HAIR[rng.int(HAIR.length)], 10));
  fillEllipse(image, headCentre[0], headCentre[1], headHalfWidth, headHalfWidth * 0.85, angle, skin);
  fillPolygon(image, pick(part('contour')), skin);
  const line = Math.max(1, scale * 1.3);
  strokePolyline(image, pick(part('contour')), line, shade(skin, 0.6));

  // Make-up: eye shadow and saturated lips.
  attributes.makeup = rng.chance(0.2);
  if (attributes.makeup) {
    const shadow = jitter(rng, [110, 60, 120], 40);
    for (const eye of ['right_eye', 'left_eye']) {
      const [cx, cy] = centroid(pick(part(eye)));
      fillEllipse(image, cx, cy - 2 * scale, 9 * scale, 5 * scale, angle, shadow);
    }
  }

  // Brows: the upper and lower edges of each brow form one closed polygon.
  const browColour = shade(jitter(rng, HAIR[rng.int(HAIR.length)], 10), 0.8);
  for (const brow of ['right_eyebrow', 'left_eyebrow']) {
    fillPolygon(image, pick(part(brow)), browColour);
    strokePolyline(image, pick(part(brow)), line, browColour, true);
  }

  // Eyes: sclera, iris and pupil, then the outline through the eye landmarks.
  const iris = jitter(rng, IRIS[rng.int(IRIS.length)], 20);
  for (const [eye, pupil] of [['right_eye', 96], ['left_eye', 97]] as const) {
    const outline = pick(part(eye));
    fillPolygon(image, outline, jitter(rng, [235, 235, 230], 10));
    const [px, py] = points[pupil];
    fillEllipse(image, px, py, 2.3 * scale, 2.3 * scale, 0, iris);
    fillEllipse(image, px, py, 1.1 * scale, 1.1 * scale, 0, [15, 15, 15]);
    strokePolyline(image, outline, line, [30, 25, 25], true);
  }

  // Nose: the bridge line and the line under the nostrils.
  const noseColour = shade(skin, 0.55);
  strokePolyline(image, pick(range(51, 54)), line, noseColour);
  strokePolyline(image, pick(range(55, 59)), line, noseColour);

  // Lips: outer lip filled, the mouth's inside dark, the inner outline always visible.
  const lips = attributes.makeup ? jitter(rng, [200, 20, 50], 25) : shade(jitter(rng, [190, 90, 90], 25), skin[0] / 230);
  fillPolygon(image, pick(part('outer_lips')), lips);
  strokePolyline(image, pick(part('outer_lips')), line, shade(lips, 0.7), true);
  fillPolygon(image, pick(part('inner_lips')), [60, 20, 25]);
  strokePolyline(image, pick(part('inner_lips')), line, [70, 25, 30], true);

  const box = boundingBox(points);

  // Occlusion: an object over part of the face.
  attributes.occlusion = rng.chance(0.15);
  if (attributes.occlusion) {
    const w = box[2] - box[0];
    const h = box[3] - box[1];
    const cx = box[0] + rng.uniform(0.2, 0.8) * w;
    const cy = box[1] + rng.uniform(0.2, 0.8) * h;
    const rx = rng.uniform(0.15, 0.3) * w;
    fillPolygon(image, [[cx - rx, cy - rx], [cx + rx, cy - rx * 0.7], [cx + rx, cy + rx], [cx - rx * 0.8, cy + rx]], jitter(rng, [128, 128, 128], 120));
  }

  // Illumination: a strong side light, otherwise a mild one.
  attributes.illumination = rng.chance(0.2);
  relight(image, rng, attributes.illumination ? rng.uniform(0.5, 0.8) : rng.uniform(0, 0.2));

  attributes.blur = rng.chance(0.15);
  if (attributes.blur) boxBlur(image, rng.chance(0.5) ? 1 : 2);

  addNoise(image, rng, rng.uniform(1, 7));

  const landmarksPx = new Float64Array(points.length * 2);
  points.forEach(([x, y], k) => {
    landmarksPx[2 * k] = x;
    landmarksPx[2 * k + 1] = y;
  });
  return { image, landmarksPx, box, attributes };
}

function centroid(points: Points): [number, number] {
  let x = 0;
  let y = 0;
  for (const p of points) {
    x += p[0] / points.length;
    y += p[1] / points.length;
  }
  return [x, y];
}

function boundingBox(points: Points): [number, number, number, number] {
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

/** Multiplies by a linear ramp across the image in a random direction; `strength` 0 leaves it as is. */
function relight(image: RgbImage, rng: Random, strength: number): void {
  const direction = rng.uniform(0, 2 * Math.PI);
  const ux = Math.cos(direction) / image.width;
  const uy = Math.sin(direction) / image.height;
  for (let j = 0; j < image.height; j++) {
    for (let i = 0; i < image.width; i++) {
      const t = 0.5 + (i - image.width / 2) * ux + (j - image.height / 2) * uy;
      const factor = 1 - strength * Math.min(1, Math.max(0, t));
      const o = 3 * (j * image.width + i);
      for (let c = 0; c < 3; c++) image.data[o + c] = Math.round(image.data[o + c] * factor);
    }
  }
}

function addNoise(image: RgbImage, rng: Random, sigma: number): void {
  for (let o = 0; o < image.data.length; o++) {
    image.data[o] = Math.max(0, Math.min(255, Math.round(image.data[o] + sigma * rng.normal())));
  }
}
