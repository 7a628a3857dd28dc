// Landmarks far outside the image (a lost decimal point, a unit slip) or non-finite are refused
// with file and line, in both the raw WFLW files and the WFLW256 crops' files.
import t from 'tap';
import { parseWflwAnnotations, parseWflwLine, formatWflwLine } from '../../data/wflw-annotations.ts';
import { formatWflw256Line, parseWflw256 } from '../../data/wflw256.ts';

const landmarks = Float64Array.from({ length: 196 }, (_, k) => 40 + (k % 50));
const face = {
  landmarksPx: landmarks,
  box: [30, 30, 100, 100] as [number, number, number, number],
  attributes: { pose: false, expression: false, illumination: false, makeup: false, occlusion: false, blur: false },
  imagePath: 'a/b.png',
};

function rawWith(point: number, x: number, y: number): string {
  const moved = Float64Array.from(landmarks);
  moved[2 * point] = x;
  moved[2 * point + 1] = y;
  return formatWflwLine({ ...face, landmarksPx: moved });
}

t.test('raw WFLW: a landmark ten face-box sizes away from its box is refused with file and line', async (t) => {
  // The box is 70 px; 10 box sizes beyond its right edge is x = 800.
  t.throws(() => parseWflwLine(rawWith(5, 801, 50), 'list.txt', 7), /^list\.txt:7: landmark 5 \(801, 50\) lies more than 10 face-box sizes outside the face box 30 30 100 100/);
  t.throws(() => parseWflwLine(rawWith(97, 50, -1e6), 'list.txt', 2), /^list\.txt:2: landmark 97 /);
  t.throws(() => parseWflwLine(rawWith(0, 50, Infinity), 'list.txt', 3), /^list\.txt:3: token 2 \("Infinity"\) is not a number/);
  const { faces, problems } = parseWflwAnnotations([formatWflwLine(face), rawWith(3, 1e5, 50)].join('\n'), 'list.txt');
  t.equal(faces.length, 1, 'the good line is kept');
  t.match(problems.map((p) => p.message), [/^list\.txt:2: landmark 3 /]);
});

t.test('raw WFLW: landmarks around the box, even well outside it, are kept', async (t) => {
  t.equal(parseWflwLine(rawWith(5, 799, -600), 'list.txt', 1).landmarksPx[10], 799);
});

function cropWith(k: number, value: string): string {
  const tokens = formatWflw256Line(landmarks, 'x.png').split(' ');
  tokens[k] = value;
  return tokens.join(' ');
}

t.test('WFLW256: a coordinate ten crop sizes outside the 256x256 crop is refused with file and line', async (t) => {
  t.throws(() => parseWflw256(cropWith(3, '2817'), 'train.txt'), /^train\.txt:1: token 4 \(x of landmark 3: 2817\) lies more than 10 crop sizes outside the 256x256 crop/);
  t.throws(() => parseWflw256(['', cropWith(98 + 4, '-2561')].join('\n'), 'test.txt'), /^test\.txt:2: token 103 \(y of landmark 4: -2561\) lies more than 10/);
  t.throws(() => parseWflw256(cropWith(0, 'NaN'), 'train.txt'), /^train\.txt:1: token 1 \("NaN"\) is not a number/);
});

t.test('WFLW256: coordinates cut off at the crop edge are kept', async (t) => {
  const [sample] = parseWflw256(cropWith(3, '-300'), 'train.txt');
  t.equal(sample.landmarksPx[6], -300);
  t.equal(parseWflw256(cropWith(98, '2816'), 'train.txt')[0].landmarksPx[1], 2816);
});
