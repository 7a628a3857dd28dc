// The landmark drawing (part colours, upscaling, dots where the coordinates say, a legend) and the
// crop / un-crop mapping of cli/predict.js.
import t from 'tap';
import { cropFace } from '../../../data/face-crop.ts';
import { cropToImagePoints, faceInput } from '../../../data/face-input.ts';
import { DRAWN_PARTS, dotRadius, drawLandmarks, landmarkColours, readableScale } from '../../../data/figures/landmark-drawing.ts';
import { createRgbImage, type RgbImage } from '../../../data/rgb-image.ts';
import { wflwTopology } from '../../../data/topology.ts';

const pixel = (image: RgbImage, x: number, y: number) => Array.from(image.data.subarray(3 * (y * image.width + x), 3 * (y * image.width + x) + 3));

t.test('every point has its part\'s colour, and the parts have different colours', async (t) => {
  const colours = landmarkColours();
  t.equal(colours.filter(Boolean).length, 98, 'all 98 points coloured');
  const { parts } = wflwTopology();
  t.same(colours[parts.contour[0]], DRAWN_PARTS[0].colour);
  t.same(colours[parts.left_pupil[0]], colours[parts.right_pupil[0]], 'left and right of a part share a colour');
  t.same(colours[parts.inner_lips[1]], colours[parts.outer_lips[0]], 'both lips are the mouth');
  t.equal(new Set(DRAWN_PARTS.map((p) => p.colour.join())).size, DRAWN_PARTS.length);
});

t.test('faces are enlarged by a whole factor to at least 384 px, within 4096 px', async (t) => {
  t.equal(readableScale(128, createRgbImage(256, 256)), 3, 'the face of a 256 crop is its central 128');
  t.equal(readableScale(500, createRgbImage(1000, 800)), 1, 'a large face stays as it is');
  t.equal(readableScale(20, createRgbImage(2000, 100)), 2, 'no side beyond 4096 px');
});

t.test('dots sit at the coordinates in their part colour, outlined, above a legend', async (t) => {
  const image = createRgbImage(100, 80);
  image.data.fill(128);
  // A 14 x 7 grid of points, 7 px apart: far enough that dots at scale 4 do not overlap.
  const landmarks = new Float64Array(196);
  for (let i = 0; i < 98; i++) landmarks.set([3.3 + 7 * (i % 14), 4.6 + 7 * Math.floor(i / 14) + 20], 2 * i);
  const scale = 4;
  const drawing = drawLandmarks(image, landmarks, scale);
  t.equal(drawing.width, 400);
  t.ok(drawing.height > 320 && drawing.height < 420, `image rows then a legend strip (${drawing.height} rows)`);
  const colours = landmarkColours();
  for (let i = 0; i < 98; i++) {
    const x = Math.floor(landmarks[2 * i] * scale);
    const y = Math.floor(landmarks[2 * i + 1] * scale);
    if (pixel(drawing, x, y).join() !== colours[i].join()) t.fail(`point ${i} at (${x}, ${y}) is ${pixel(drawing, x, y)}, not ${colours[i]}`);
    // Just outside the fill, inside the outline.
    const ring = Math.floor(landmarks[2 * i] * scale + dotRadius(scale) + 0.8);
    if (pixel(drawing, ring, y).join() !== '0,0,0') t.fail(`point ${i} has no outline at (${ring}, ${y})`);
  }
  t.same(pixel(drawing, 2, 2), [128, 128, 128], 'the image shows between dots');
  let ink = 0;
  for (let y = 320; y < drawing.height; y++) for (let x = 0; x < drawing.width; x++) if (pixel(drawing, x, y).join() === '0,0,0') ink++;
  t.ok(ink > 200, `the legend has text (${ink} dark pixels)`);
});

t.test('a face box gives prepare\'s crop, and crop points map back to the photograph', async (t) => {
  const photo = createRgbImage(300, 200);
  for (let i = 0; i < photo.data.length; i++) photo.data[i] = (i * 7) % 251;
  const box = [120, 50, 180, 130] as const;
  const input = faceInput(photo, box, 'nearest');
  t.same(input.crop.data, cropFace(photo, box, [], 'nearest').image.data, 'the same pixels as data/face-crop.ts');
  t.equal(input.faceSidePx, 80, 'the box squared on its long side');
  const [cx, cy] = cropToImagePoints(input, [128, 128]);
  t.same([cx, cy], [150, 90], 'the crop centre is the box centre');
  const [x0, y0] = cropToImagePoints(input, [64, 64]);
  t.same([x0, y0], [110, 50], 'the face square is the crop\'s central half');

  const crop = createRgbImage(256, 256);
  const asIs = faceInput(crop, undefined, 'nearest');
  t.equal(asIs.crop, crop, 'a prepared crop is used as it is');
  t.same(Array.from(cropToImagePoints(asIs, [10, 20])), [10, 20]);
  t.throws(() => faceInput(photo, undefined, 'nearest'), /300x200, not a 256x256 crop/);
});
