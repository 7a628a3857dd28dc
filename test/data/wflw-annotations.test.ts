import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatWflwLine, parseWflwAnnotations, parseWflwLine, WFLW_TOKENS_PER_LINE } from '../../data/wflw-annotations.ts';
import { formatWflw256Line, parseWflw256, readWflw256 } from '../../data/wflw256.ts';
import { SourceError } from '../../data/source-error.ts';

const landmarks = Float64Array.from({ length: 196 }, (_, k) => 10 + k * 0.5);
const face = {
  landmarksPx: landmarks,
  box: [5, 6, 120, 130] as [number, number, number, number],
  attributes: { pose: true, expression: false, illumination: false, makeup: true, occlusion: false, blur: true },
  imagePath: '7--Cheering/7_Cheering_Cheering_7_16.png',
};
const goodLine = formatWflwLine(face);

t.test('a raw WFLW line parses into landmarks, box, flags and path', async (t) => {
  t.equal(goodLine.split(' ').length, WFLW_TOKENS_PER_LINE);
  const parsed = parseWflwLine(goodLine, 'list.txt', 4);
  t.same(Array.from(parsed.landmarksPx), Array.from(landmarks));
  t.same(parsed.box, face.box);
  t.same(parsed.attributes, face.attributes);
  t.equal(parsed.imagePath, face.imagePath);
  t.equal(parsed.line, 4);
});

t.test('malformed lines are errors naming file, 1-based line and what is wrong', async (t) => {
  const tokens = goodLine.split(' ');
  const short = tokens.slice(1).join(' ');
  const notNumber = ['12.5', 'abc', ...tokens.slice(2)].join(' ');
  const badFlag = [...tokens.slice(0, 200), '2', ...tokens.slice(201)].join(' ');
  const text = [goodLine, '', short, notNumber, badFlag, goodLine].join('\n');
  const { faces, problems } = parseWflwAnnotations(text, 'list_98pt_rect_attr_train.txt');
  t.same(faces.map((f) => f.line), [1, 6]);
  t.equal(problems.length, 3);
  t.ok(problems.every((p) => p instanceof SourceError));
  t.match(problems[0].message, /^list_98pt_rect_attr_train\.txt:3: expected 207 tokens .* found 206$/);
  t.match(problems[1].message, /^list_98pt_rect_attr_train\.txt:4: token 2 \("abc"\) is not a number/);
  t.match(problems[2].message, /^list_98pt_rect_attr_train\.txt:5: attribute flag pose .* must be 0 or 1, found 2/);
  t.throws(() => parseWflwLine(short, 'f.txt', 9), /f\.txt:9: expected 207 tokens/);
});

t.test('WFLW256 lines: 98 x then 98 y, paths relative to the file or absolute', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wflw256-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'test.txt');
  writeFileSync(file, [formatWflw256Line(landmarks, 'images/a.png'), formatWflw256Line(landmarks, '/abs/b.png')].join('\n') + '\n');
  const samples = readWflw256(file);
  t.equal(samples.length, 2);
  t.equal(samples[0].imageFile, join(dir, 'images/a.png'));
  t.equal(samples[1].imageFile, '/abs/b.png');
  t.same(Array.from(samples[0].landmarksPx), Array.from(landmarks));
  const tokens = formatWflw256Line(landmarks, 'x.png').split(' ');
  t.equal(tokens[0], String(landmarks[0]), 'first token is x of point 0');
  t.equal(tokens[98], String(landmarks[1]), 'token 99 is y of point 0');
  t.throws(() => parseWflw256('1 2 3 x.png\n', 'bad.txt'), /bad\.txt:1: expected 197 tokens/);
  t.throws(() => parseWflw256(tokens.map((v, i) => (i === 5 ? 'nan?' : v)).join(' '), 'bad.txt'), /bad\.txt:1: token 6 \("nan\?"\) is not a number/);
});
