// The SepBN parameter figure shows how the K sets differ: beside each set's values, its deviation
// from the mean of the K sets on a colour scale of its own, so sets 0.005 apart on a +-0.05 range
// (what training gives) are told apart at a glance.
import t from 'tap';
import { deviationFromMean, renderSepBnParameters } from '../../../data/figures/sepbn-figures.ts';
import { divergingColour, heatmapWidth } from '../../../data/figures/heatmap.ts';
import type { RgbImage } from '../../../data/rgb-image.ts';

function count(image: RgbImage, colour: readonly number[]): number {
  let n = 0;
  for (let o = 0; o < image.data.length; o += 3) if (image.data[o] === colour[0] && image.data[o + 1] === colour[1] && image.data[o + 2] === colour[2]) n++;
  return n;
}

t.test('each set minus the mean of the sets, channel by channel', async (t) => {
  // Two channels, three sets: means 2 and 0.
  t.same(Array.from(deviationFromMean([1, -3, 2, 0, 3, 3], 2)), [-1, -3, 0, 0, 1, 3]);
});

t.test('sets that differ by a tenth of the values\' range are drawn apart, on the deviation panels', async (t) => {
  const channels = 8;
  // Both sets follow one pattern of +-0.05 across channels, set 1 above it by 0.005 and set 2 below.
  const pattern = Array.from({ length: channels }, (_, c) => 0.05 * Math.sin(c));
  const scales = Float64Array.from([...pattern.map((v) => 1 + v + 0.005), ...pattern.map((v) => 1 + v - 0.005)]);
  const shifts = Float64Array.from([...pattern.map((v) => v + 0.005), ...pattern.map((v) => v - 0.005)]);
  const image = renderSepBnParameters([{ name: 'bn1', channels, scales, shifts }], 'two sets');
  // On the deviation panels every cell of set 1 is +0.005 of a +-0.005 scale (the deepest red) and
  // every cell of set 2 the deepest blue; on the value panels only the extreme channel is.
  const row = heatmapWidth(channels, 512) * 20;
  const red = count(image, divergingColour(1));
  const blue = count(image, divergingColour(-1));
  t.ok(red > 2 * row && blue > 2 * row, `set 1 deep red and set 2 deep blue across both deviation panels (${red} and ${blue} pixels)`);
  t.ok(image.width >= 2 * 512, `values and deviations side by side (${image.width} px wide)`);
});
