// The NaN switch (SEPBN_CHECK_NAN=1): after every GPU op, wait for the GPU, read the outputs and
// stop at the first op whose kernel wrote NaN or Inf, naming the op, its kernels and its shapes.
import { formatShape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';

export class NonFiniteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NonFiniteError';
  }
}

/** Pending checks, awaited by the next readback through awaitFiniteChecks(). */
const pending: Promise<void>[] = [];

export function checkFinite(op: string, inputs: Tensor[], outputs: Tensor[]): void {
  const shapes = inputs.map((t) => `${t.label}${formatShape(t.shape)}`).join(', ');
  for (const out of outputs) {
    if (out.dtype !== 'f32') continue;
    pending.push(
      out.toArray().then((values) => {
        const bad = values.findIndex((v) => !Number.isFinite(v));
        if (bad >= 0) {
          throw new NonFiniteError(
            `op ${op} wrote ${values[bad]} at flat index ${bad} of its output ${formatShape(out.shape)} (inputs: ${shapes})`,
          );
        }
      }),
    );
  }
}

export async function awaitFiniteChecks(): Promise<void> {
  await Promise.all(pending.splice(0));
}
