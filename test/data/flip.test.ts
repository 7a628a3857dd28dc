// The flip permutation checked against geometry instead of against itself. The WFLW mean face is
// nearly left-right symmetric, so mirroring it (x -> 128 - x) and renumbering each point as its
// partner (data/augment.ts flipLandmarks with data/wflw-topology.json "flip") must put every point
// back close to where the mean face has it. A pair left unswapped lands on the other side of the face.
import t from 'tap';
import { flipLandmarks, INPUT_SIZE } from '../../data/augment.ts';
import { LANDMARK_COUNT, wflwTopology } from '../../data/topology.ts';

// With the true table the worst point misses by 3.8 px (the mean face is not exactly symmetric about
// x = 64). A point left unswapped misses by |128 - 2x|, its distance from its own mirror image; the
// pair nearest the midline (78 and 80, the upper lip) misses by 8.2 px. 6 px sits between the two.
const TOLERANCE_PX = 6;

/** The mean shape in the 128 frame, x y interleaved. */
function meanShape(): Float64Array {
  return Float64Array.from(wflwTopology().meanShape128.flat());
}

/** How far each point of `flipped` lies from the same point of the mean shape, and the worst of them. */
function worstMiss(flipped: Float64Array): { point: number; px: number } {
  const mean = meanShape();
  let worst = { point: -1, px: 0 };
  for (let p = 0; p < LANDMARK_COUNT; p++) {
    const px = Math.hypot(flipped[2 * p] - mean[2 * p], flipped[2 * p + 1] - mean[2 * p + 1]);
    if (px > worst.px) worst = { point: p, px };
  }
  return worst;
}

/** Mirror and renumber with a given table: flipLandmarks's rule, so wrong tables can be tried without touching the JSON. */
function mirrorWith(flip: number[], shape: Float64Array): Float64Array {
  const out = new Float64Array(shape.length);
  flip.forEach((partner, p) => out.set([INPUT_SIZE - shape[2 * partner], shape[2 * partner + 1]], 2 * p));
  return out;
}

t.test('the mirrored, renumbered mean face lands on the mean face', async (t) => {
  const flipped = flipLandmarks(meanShape(), INPUT_SIZE);
  const worst = worstMiss(flipped);
  t.ok(worst.px < TOLERANCE_PX, `every point within ${TOLERANCE_PX} px of its place (worst: point ${worst.point}, ${worst.px.toFixed(2)} px)`);
  const [a, b] = wflwTopology().interocular;
  t.equal(wflwTopology().flip[a], b, 'the interocular points are mirror partners');
});

t.test('the tolerance catches a table with any one pair left unswapped', async (t) => {
  const { flip } = wflwTopology();
  t.same(mirrorWith(flip, meanShape()), flipLandmarks(meanShape(), INPUT_SIZE), 'the stand-in mirrors exactly as flipLandmarks');

  const identityExceptEyes = Array.from({ length: LANDMARK_COUNT }, (_, p) => (p === 60 ? 72 : p === 72 ? 60 : p));
  const eyesOnly = worstMiss(mirrorWith(identityExceptEyes, meanShape()));
  t.ok(eyesOnly.px > TOLERANCE_PX, `identity except 60 <-> 72: point ${eyesOnly.point} misses by ${eyesOnly.px.toFixed(1)} px`);

  let pairs = 0;
  for (let p = 0; p < LANDMARK_COUNT; p++) {
    if (flip[p] <= p) continue;
    pairs++;
    const unswapped = flip.map((partner, q) => (q === p || q === flip[p] ? q : partner));
    const miss = worstMiss(mirrorWith(unswapped, meanShape()));
    if (!(miss.px > TOLERANCE_PX)) t.fail(`pair ${p} <-> ${flip[p]} left unswapped misses by only ${miss.px.toFixed(2)} px`);
  }
  t.equal(pairs, 44, '44 mirror pairs (and 10 points on the midline) all checked');
});
