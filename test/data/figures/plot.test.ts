import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cedChart } from '../../../data/figures/ced-chart.ts';
import { drawText, textWidth } from '../../../data/figures/bitmap-font.ts';
import { readImage } from '../../../data/image-io.ts';
import { niceTicks, renderLineChart, SERIES_COLOURS, writeLineChartPng } from '../../../data/figures/plot.ts';
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
