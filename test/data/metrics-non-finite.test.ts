// A prediction with a NaN or infinite coordinate is a failure, never a face that drops out: its NME
// is Infinity, FR counts it, the CED never reaches it, the mean NME is Infinity, and the summary
// says how many faces were non-finite and what the mean of the others is.
import t from 'tap';
import { aucCed, failureRate, meanNme, nmePerImage, summarizeNme } from '../../data/metrics.ts';

/** A face whose interocular points (60 and 72) are 10 px apart; the other points anywhere. */
function targetFace(): Float64Array {
  const face = Float64Array.from({ length: 196 }, (_, k) => (k * 7) % 50);
  face.set([0, 0], 2 * 60);
  face.set([10, 0], 2 * 72);
  return face;
}

t.test('a NaN or infinite coordinate makes the face infinitely wrong', async (t) => {
  const target = targetFace();
  const good = target.map((v, k) => (k === 0 ? v + 4.9 : v)); // one point 4.9 px off: NME 0.005
  const nan = target.slice();
  nan[7] = NaN;
  const inf = target.slice();
  inf[100] = -Infinity;
  const nmes = nmePerImage([...good, ...nan, ...inf], [...target, ...target, ...target]);
  t.ok(Math.abs(nmes[0] - 4.9 / 98 / 10) < 1e-12);
  t.same([nmes[1], nmes[2]], [Infinity, Infinity], 'NaN and -Infinity alike');
  t.equal(meanNme(nmes), Infinity);
  t.equal(failureRate(nmes), 2 / 3, 'both count as failures');
  // CED: 1/3 from 0.005 on, never more: AUC (0.1 - 0.005) / 0.1 / 3.
  t.ok(Math.abs(aucCed(nmes) - (0.1 - 0.005) / 0.1 / 3) < 1e-3, `AUC ${aucCed(nmes)}`);
  const summary = summarizeNme(nmes);
  t.equal(summary.nme, Infinity);
  t.equal(summary.nonFinite, 2);
  t.ok(Math.abs(summary.finiteNme - 0.005) < 1e-12, 'the mean of the finite faces is kept beside it');
});

t.test('NaN handed straight to the scores also fails', async (t) => {
  t.equal(failureRate([NaN, 0.01]), 0.5);
  t.ok(Math.abs(aucCed([NaN, 0]) - 0.5) < 1e-3);
  const summary = summarizeNme([NaN]);
  t.equal(summary.nonFinite, 1);
  t.ok(Number.isNaN(summary.finiteNme), 'no finite face, no mean of them');
});

t.test('a healthy set reports no non-finite faces', async (t) => {
  const summary = summarizeNme([0.01, 0.03]);
  t.same({ nonFinite: summary.nonFinite, same: summary.finiteNme === summary.nme }, { nonFinite: 0, same: true });
});
