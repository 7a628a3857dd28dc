// The NaN switch (SEPBN_CHECK_NAN=1): after every GPU op, read its outputs back (waiting for the
// GPU) and stop the program at the first op whose kernel wrote NaN or Inf, naming the op on the
// tape, the kernels it dispatched with their shapes, and its inputs. Each output's copy is recorded
// right after its op; the checks then run one after another in op order, so the first report is
// the first culprit.
import { currentPlatform } from '../platform/platform.ts';
import { formatShape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';

let checked: Promise<void> = Promise.resolve();

export function checkFinite(op: string, kernels: string[], inputs: Tensor[], outputs: Tensor[]): void {
  const shapes = inputs.map((t) => `${t.label}${formatShape(t.shape)}`).join(', ');
  for (const out of outputs) {
    if (out.dtype !== 'f32') continue;
    const read = out.toArray();
    checked = checked.then(() => read).then((values) => {
      const bad = values.findIndex((v) => !Number.isFinite(v));
      if (bad < 0) return;
      const platform = currentPlatform();
      platform.report(
        `SEPBN_CHECK_NAN: op ${op} wrote ${values[bad]} at flat index ${bad} of its output ${formatShape(out.shape)}\n` +
          `  kernels: ${kernels.join('; ') || '(none: a copy)'}\n  inputs: ${shapes}`,
      );
      platform.halt(1);
    });
  }
}
