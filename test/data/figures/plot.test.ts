import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cedChart, cedTitle } from '../../../data/figures/ced-chart.ts';
import { drawText, textWidth } from '../../../data/figures/bitmap-font.ts';
import { readImage } from '../../../data/image-io.ts';
import { niceTicks, renderLineChart, SERIES_COLOURS, wrapText, writeLineChartPng } from '../../../data/figures/plot.ts';
import { createRgbImage, type RgbImage } from '../../../data/rgb-image.ts';

function count(image: RgbImage, colour: readonly number[]): number {
  let n = 0;
  for (let o = 0; o < image.data.length; o += 3) if (image.data[o] === colour[0] && image.data[o + 1] === colour[1] && image.data[o + 2] === colour[2]) n++;
  return n;
}

t.test('ticks are round numbers covering the range', async (t) => {
  t.same(niceTicks(0, 0.1), [0, 0.02, 0.04, 0.06, 0.08, 0.1]);
  t.same(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  t.same(niceTicks(1.03, 3.2), [1.5, 2, 2.5, 3]);
  t.same(niceTicks(0, 37), [0, 10, 20, 30]);
});

t.test('text is drawn in ink, as wide as textWidth says', async (t) => {
  const image = createRgbImage(60, 10);
  drawText(image, 0, 0, 'NME 0.5', [255, 0, 0]);
  let rightmost = -1;
  for (let j = 0; j < 10; j++) for (let i = 0; i < 60; i++) if (image.data[3 * (j * 60 + i)] === 255) rightmost = Math.max(rightmost, i);
  t.equal(rightmost, textWidth('NME 0.5') - 1, 'the last glyph, 5, is inked to its right edge');
});

t.test('a chart shows each series in its own colour inside the axes, and writes a PNG', async (t) => {
  const chart = cedChart([{ name: 'sepbn', nmes: [0.02, 0.03, 0.05] }, { name: 'vanilla', nmes: [0.04, 0.2] }]);
  const image = renderLineChart(chart);
  t.same([image.width, image.height], [800, 560]);
  t.ok(count(image, SERIES_COLOURS[0]) > 200, 'first series drawn');
  t.ok(count(image, SERIES_COLOURS[1]) > 200, 'second series drawn');
  t.ok(count(image, [0, 0, 0]) > 1000, 'axes and labels drawn');
  const dir = mkdtempSync(join(tmpdir(), 'plot-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'ced.png');
  writeLineChartPng(file, chart);
  t.same(Array.from(readImage(file).data.subarray(0, 3)), [255, 255, 255], 'the PNG reads back');
});

t.test('a CED chart in percent, titled with what was scored on what, says why a curve is missing', async (t) => {
  const chart = cedChart([{ name: 'a', nmes: [0.02, 0.2] }, { name: 'b', nmes: [Infinity, NaN] }, { name: 'c', nmes: [] }], 0.1, cedTitle(['runs/a/last.safetensors'], 'faces/test.txt'));
  t.equal(chart.title, 'CED of runs/a/last.safetensors on faces/test.txt');
  t.same(chart.xRange, [0, 10], 'NME in percent, as the tables print it');
  t.equal(chart.series[0].x[chart.series[0].x.length - 1], 10);
  t.same(chart.series.map((s) => s.name), ['a', 'b (no curve: all 2 predictions non-finite)', 'c (no curve: no faces)']);
  t.equal(chart.note, undefined, 'one curve is drawn: no note');
  const empty = cedChart([{ name: 'nan', nmes: [NaN, NaN, NaN] }]);
  t.equal(empty.note, 'No curve to draw: all 3 predictions non-finite');
  t.equal(cedChart([{ name: 'far', nmes: [0.3] }]).note, "No curve to draw: every face's NME above 10 %");
  const noteInk = [200, 0, 0];
  t.ok(count(renderLineChart(empty), noteInk) > 100, 'the note is written on the chart');
  t.equal(count(renderLineChart(chart), noteInk), 0, 'no note, no note ink');
});

t.test('a long title wraps onto lines that fit', async (t) => {
  const title = 'CED of /a/very/long/path/to/a/run/folder/last.safetensors vs another-run on the 2500 faces of /data/wflw256/test.txt';
  const lines = wrapText(title, 780, 2);
  t.ok(lines.length >= 2, `${lines.length} lines`);
  t.ok(lines.every((l) => textWidth(l, 2) <= 780), 'each fits');
  t.equal(lines.join(' '), title, 'no word lost');
});
