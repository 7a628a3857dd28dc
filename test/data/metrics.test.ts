import t from 'tap';
import { aucCed, cedCurve, failureRate, meanNme, nmePerImage, simpson, summarizeNme } from '../../data/metrics.ts';

/** A face whose interocular points (60 and 72) are 10 px apart; the other points anywhere. */
function targetFace(): Float64Array {
  const face = Float64Array.from({ length: 196 }, (_, k) => (k * 7) % 50);
  face.set([0, 0], 2 * 60);
  face.set([10, 0], 2 * 72);
  return face;
}

t.test('NME by hand: every point off by a 3-4-5 triangle, and half the points off by 0.246 px', async (t) => {
  const target = targetFace();
  const shifted = target.map((v, k) => v + (k % 2 === 0 ? 3 : 4));
  const half = target.map((v, k) => (k % 2 === 1 && k < 98 ? v + 0.246 : v));
  const nmes = nmePerImage([...shifted, ...half], [...target, ...target]);
  t.equal(nmes.length, 2);
  t.ok(Math.abs(nmes[0] - 0.5) < 1e-12, 'each of 98 points 5 px off, interocular 10: NME 0.5');
  t.ok(Math.abs(nmes[1] - (49 * 0.246) / 98 / 10) < 1e-12, '49 of 98 points 0.246 px off: NME 0.0123');
  t.ok(Math.abs(meanNme(nmes) - (0.5 + 0.0123) / 2) < 1e-12);
  t.equal(failureRate(nmes), 0.5);
  // CED: 0 below 0.0123, 1/2 from there to 0.1; the exact area is 0.5 (0.1 - 0.0123).
  t.ok(Math.abs(aucCed(nmes) - (0.5 * (0.1 - 0.0123)) / 0.1) < 1e-3);
});

t.test('edge cases: all below, all above, exactly at the threshold', async (t) => {
  const allBelow = [0, 0, 0];
  t.equal(failureRate(allBelow), 0);
  t.ok(Math.abs(aucCed(allBelow) - 1) < 1e-12, 'CED is 1 everywhere: AUC 1');
  const allAbove = [0.2, 0.15, 0.5];
  t.equal(failureRate(allAbove), 1);
  t.equal(aucCed(allAbove), 0, 'CED is 0 everywhere: AUC 0');
  t.equal(failureRate([0.1]), 0, 'NME equal to the threshold is not a failure');
  const spread = Array.from({ length: 1000 }, (_, i) => ((i + 0.5) / 1000) * 0.1);
  t.ok(Math.abs(aucCed(spread) - 0.5) < 2e-3, 'NMEs uniform on [0, 0.1]: CED is the diagonal, AUC 1/2');
  t.same(summarizeNme([]).count, 0);
  t.ok(Number.isNaN(summarizeNme([]).nme), 'an empty subset has no mean');
});

t.test('the CED curve is sampled every 1e-4 on [0, 0.1]', async (t) => {
  const { x, y } = cedCurve([0.05]);
  t.equal(x.length, 1001);
  t.equal(x[1000], 0.1);
  t.equal(y[499], 0);
  t.equal(y[500], 1);
});

t.test("Simpson's rule is exact for cubics, and closes an odd interval count with a trapezoid", async (t) => {
  const xs = Array.from({ length: 11 }, (_, k) => k / 10);
  t.ok(Math.abs(simpson(xs.map((x) => x ** 3), 0.1) - 0.25) < 1e-12);
  t.ok(Math.abs(simpson([0, 1, 2, 3], 1) - 4.5) < 1e-12, 'a line over three intervals');
});

t.test('NME refuses mismatched shapes', async (t) => {
  t.throws(() => nmePerImage(new Float64Array(196), new Float64Array(392)), /equal length/);
});
