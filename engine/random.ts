// The project's one seeded generator (a Weyl sequence passed through a SplitMix32-style mixer), so
// every random tensor, initialisation, synthetic face, shuffle and augmentation is reproducible from
// its seed on every backend.

const GOLDEN_GAMMA = 0x9e3779b9;

/** Mixes a 32-bit value into a well-spread 32-bit value (multiply, xor and shift avalanche). */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

export class Random {
  private state: number;

  /**
   * Seeds from one or more integer keys. Streams that must not depend on the order in which they
   * are drawn take several, e.g. (stream, seed, epoch, sample), so each sample's augmentation is the
   * same whichever worker draws it.
   */
  constructor(seed: number, ...moreKeys: number[]) {
    let state = (Math.floor(seed) ^ GOLDEN_GAMMA) >>> 0;
    for (const key of moreKeys) state = (mix32(state ^ mix32(key >>> 0)) + 0x632be5ab) >>> 0;
    this.state = state;
  }

  /** Uniform on [0, 1), 32 random bits. */
  next(): number {
    this.state = (this.state + GOLDEN_GAMMA) >>> 0;
    return mix32(this.state) / 4294967296;
  }

  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal by the Box-Muller transform. */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

/** A permutation of 0..n-1, Fisher-Yates with the given generator. */
export function shuffledIndices(n: number, rng: Random): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}
