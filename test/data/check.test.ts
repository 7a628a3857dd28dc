// checkRunData finds every bad line and image of a run's annotation files before training starts,
// reading only headers: missing, empty, unrecognised, truncated and wrongly sized images, malformed
// lines, an empty or missing list; each named with its annotation file and line, 20 at most listed.
import t from 'tap';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { checkRunData, DataCheckError, imageProblem } from '../../data/check.ts';
import { encodePng } from '../../data/image-io.ts';
import { createRgbImage } from '../../data/rgb-image.ts';
import { ensureSyntheticDataset } from '../../data/synthetic-dataset.ts';
import { RunError } from '../../models/run.ts';

const dir = mkdtempSync(join(tmpdir(), 'sepbn-check-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const clean = ensureSyntheticDataset(dir, { train: 6, test: 3, size: 96, seed: 4 });

/** A copy of the clean folder for one test to break. */
function copy(name: string) {
  const to = join(dir, name);
  cpSync(clean, to, { recursive: true });
  const train = join(to, 'train.txt');
  const test = join(to, 'test.txt');
  /** The image of a line (1-based) of a list. */
  const image = (list: string, line: number) => join(to, readFileSync(list, 'utf8').split('\n')[line - 1].trim().split(/\s+/).at(-1)!);
  return { train, test, image };
}

function problemsOf(files: { train: string; test: string }): string[] {
  try {
    checkRunData(files);
  } catch (err) {
    if (err instanceof DataCheckError) return err.problems.map((p) => p.message);
    throw err;
  }
  return [];
}

t.test('the prepared data passes', async (t) => {
  t.same(problemsOf({ train: join(clean, 'train.txt'), test: join(clean, 'test.txt') }), []);
});

t.test('every bad image and line is listed, each with its annotation file and line', async (t) => {
  const { train, test, image } = copy('bad');
  rmSync(image(test, 2));
  writeFileSync(image(train, 1), 'not an image');
  writeFileSync(image(train, 3), '');
  truncateSync(image(train, 4), 200);
  writeFileSync(image(train, 5), encodePng(createRgbImage(64, 48)));
  const lines = readFileSync(train, 'utf8').split('\n');
  lines[5] = lines[5].replace(/^\S+/, 'oops');
  writeFileSync(train, lines.join('\n'));

  const problems = problemsOf({ train, test });
  t.equal(problems.length, 6, problems.join('\n'));
  t.match(problems[0], new RegExp(`^${train}:1: .*: not a PNG or JPEG file`));
  t.match(problems[1], new RegExp(`^${train}:3: .*: the file is empty`));
  t.match(problems[2], new RegExp(`^${train}:4: .*: truncated PNG`));
  t.match(problems[3], new RegExp(`^${train}:5: .*: is 64x48; the loader expects 256x256`));
  t.match(problems[4], new RegExp(`^${train}:6: token 1 \\("oops"\\) is not a number`), 'a malformed line, in line order');
  t.match(problems[5], new RegExp(`^${test}:2: .*: no such file`), 'the test list is checked too');
  t.ok(t.throws(() => checkRunData({ train, test })) instanceof RunError, 'a RunError: the train command prints it without a stack');
});

t.test('an empty or missing list is an error', async (t) => {
  const { train, test } = copy('empty');
  writeFileSync(test, '\n');
  t.same(problemsOf({ train, test }), [`${test}: no faces: the list is empty`]);
  const missing = join(dir, 'empty', 'nothing.txt');
  t.match(problemsOf({ train: missing, test }), [new RegExp(`^${missing}: cannot read annotation file`), /no faces/]);
});

t.test('past 20 problems the rest are counted', async (t) => {
  const { train, test } = copy('many');
  const line = readFileSync(train, 'utf8').split('\n')[0];
  writeFileSync(train, Array.from({ length: 25 }, (_, i) => line.replace(/\S+$/, `images/missing${i}.png`)).join('\n') + '\n');
  const err = t.throws(() => checkRunData({ train, test })) as Error;
  const message = err.message.split('\n');
  t.match(message[0], /^the data has 25 problems/);
  t.equal(message.length, 1 + 20 + 1);
  t.equal(message.at(-1), '  ... and 5 more');
});

t.test('JPEG headers are read for their size', async (t) => {
  const folder = join(dir, 'jpeg');
  mkdirSync(folder);
  const encode = (w: number, h: number) => jpeg.encode({ width: w, height: h, data: Buffer.alloc(w * h * 4) }, 80).data;
  writeFileSync(join(folder, 'crop.jpg'), encode(256, 256));
  writeFileSync(join(folder, 'small.jpg'), encode(32, 16));
  writeFileSync(join(folder, 'cut.jpg'), encode(256, 256).subarray(0, 20));
  t.equal(imageProblem(join(folder, 'crop.jpg')), undefined);
  t.equal(imageProblem(join(folder, 'small.jpg')), 'is 32x16; the loader expects 256x256 crops from cli/prepare.js');
  t.match(imageProblem(join(folder, 'cut.jpg')), /^corrupt JPEG: truncated/);
  copyFileSync(join(folder, 'crop.jpg'), join(folder, 'named.png'));
  t.equal(imageProblem(join(folder, 'named.png')), undefined, 'recognised by signature, not name');
  t.match(imageProblem(folder), /^cannot read/, 'a folder where an image should be');
});
