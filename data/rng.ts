// A small deterministic PRNG. Augmentation draws from a stream keyed by (seed, epoch, index), so a
// sample's transform does not depend on which worker draws it or in which order.

/** Mixes a 32-bit state into a well-spread 32-bit value (an avalanche step of multiply, xor and shift). */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

export class Rng {
  private state: number;

  /** Seeds from any number of integer keys, each folded in through the mixer. */
  constructor(...keys: number[]) {
    let s = 0x9e3779b9;
    for (const k of keys) s = mix32((s ^ mix32(k >>> 0)) + 0x632be5ab);
    this.state = s;
  }

  /** Uniform in [0, 1): a Weyl sequence passed through the mixer. */
  next(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    return mix32(this.state) / 4294967296;
  }

  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal by Box-Muller; used for pixel noise in synthetic faces. */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
}

/** A permutation of 0..n-1, Fisher-Yates with the given generator. */
export function shuffledIndices(n: number, rng: Rng): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}
