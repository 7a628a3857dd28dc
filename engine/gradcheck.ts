// The witness for every op: (1) on the CPU in Float64, the tape's gradients against central
// finite differences (eps 1e-6, atol 1e-5, rtol 1e-3, as torch.autograd.gradcheck); (2) the
// WebGPU forward and backward against the CPU's on the same f32-representable inputs, with the
// error measured relative to the largest magnitude of the expected tensor.
import { backward } from './autodiff.ts';
import { defaultBackend } from './backend.ts';
import { tensor } from './create.ts';
import { cpuData } from './cpu-storage.ts';
import { mul } from './ops/arith.ts';
import { sum } from './ops/reduce.ts';
import type { WitnessCase } from './ops/witness.ts';
import { Random } from './random.ts';
import { scope } from './scope.ts';
import { sizeOf } from './shape.ts';
import { noGrad, type BackendName, type Tensor } from './tensor.ts';

export const FINITE_DIFFERENCE = { eps: 1e-6, atol: 1e-5, rtol: 1e-3 };
const DEFAULT_GPU_TOLERANCE = 1e-5;
/** Elements per input whose finite difference is taken; larger inputs are sampled. */
const MAX_PROBED_ELEMENTS = 400;

export interface CheckRow {
  op: string;
  label: string;
  /** What was compared, e.g. 'cpu grad x0 vs finite differences' or 'webgpu output vs cpu'. */
  check: string;
  maxError: number;
  tolerance: number;
  pass: boolean;
}

function inputName(c: WitnessCase, i: number): string {
  return c.inputs[i].name ?? `x${i}`;
}

function drawInputs(c: WitnessCase, seed: number): Float64Array[] {
  const rng = new Random(seed);
  return c.inputs.map((spec) => {
    const values = new Float64Array(sizeOf(spec.shape));
    for (let i = 0; i < values.length; i++) values[i] = Math.fround(spec.draw ? spec.draw(rng, i) : rng.normal());
    return values;
  });
}

function projection(size: number, seed: number): Float64Array {
  const rng = new Random(seed ^ 0x5bd1e995);
  return Float64Array.from({ length: size }, () => Math.fround(rng.uniform(-1, 1)));
}

interface Evaluation {
  output: Float64Array;
  grads: Array<Float64Array | null>;
}

/** Runs the case on a backend: forward, then backward with dL/d(output) = the projection. */
async function evaluate(c: WitnessCase, values: Float64Array[], backend: BackendName, seed: number): Promise<Evaluation> {
  return scope(async () => {
    const inputs = c.inputs.map((spec, i) =>
      tensor(values[i], spec.shape, { backend, requiresGrad: spec.differentiable !== false, label: `x${i}` }),
    );
    const out = c.call(inputs);
    const r = tensor(projection(out.size, seed), out.shape, { backend, label: 'projection' });
    backward(out, { grad: r });
    const output = Float64Array.from(await out.toArray());
    const grads: Array<Float64Array | null> = [];
    for (const x of inputs) grads.push(x.grad ? Float64Array.from(await x.grad.toArray()) : null);
    for (const x of inputs) x.grad?.dispose();
    return { output, grads };
  });
}

function projectedLoss(c: WitnessCase, inputs: Tensor[], r: Tensor): number {
  return scope(() => noGrad(() => cpuData(sum(mul(c.call(inputs), r)))[0]));
}

/** CPU tape gradients against central finite differences, in Float64. */
export async function checkAgainstFiniteDifferences(op: string, c: WitnessCase, seed = 1): Promise<CheckRow[]> {
  const values = drawInputs(c, seed);
  const analytic = await evaluate(c, values, 'cpu', seed);
  return scope(() => {
    const inputs = c.inputs.map((spec, i) => tensor(values[i], spec.shape, { backend: 'cpu', label: `x${i}` }));
    const r = tensor(projection(analytic.output.length, seed), noGrad(() => c.call(inputs)).shape, { backend: 'cpu' });
    const rows: CheckRow[] = [];
    const { eps, atol, rtol } = FINITE_DIFFERENCE;
    inputs.forEach((x, i) => {
      if (c.inputs[i].differentiable === false) return;
      const data = cpuData(x);
      const probe = new Random(seed + i);
      const indices = data.length <= MAX_PROBED_ELEMENTS
        ? [...data.keys()]
        : Array.from({ length: MAX_PROBED_ELEMENTS }, () => Math.floor(probe.next() * data.length));
      let maxError = 0;
      let pass = true;
      for (const j of indices) {
        const saved = data[j];
        data[j] = saved + eps;
        const plus = projectedLoss(c, inputs, r);
        data[j] = saved - eps;
        const minus = projectedLoss(c, inputs, r);
        data[j] = saved;
        const numeric = (plus - minus) / (2 * eps);
        const got = analytic.grads[i]?.[j] ?? 0;
        const err = Math.abs(got - numeric);
        maxError = Math.max(maxError, err);
        if (!(err <= atol + rtol * Math.abs(numeric))) pass = false;
      }
      rows.push({ op, label: c.label, check: `cpu grad ${inputName(c, i)} vs finite differences`, maxError, tolerance: atol, pass });
    });
    return rows;
  });
}

/**
 * max |got - want| / max |want|: the error relative to the expected tensor's magnitude (absolute
 * where `want` is all zeros), Infinity where any difference is NaN. The one such measure the
 * checks and the tests use.
 */
export function maxRelativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`maxRelativeError: ${got.length} values against ${want.length}`);
  let scale = 0;
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]));
    const d = Math.abs(got[i] - want[i]);
    err = Number.isNaN(d) ? Infinity : Math.max(err, d);
  }
  return err / (scale > 0 ? scale : 1);
}

/** WebGPU forward and gradients against the CPU's on the same inputs. Needs useBackend('webgpu') first. */
export async function checkGpuAgainstCpu(op: string, c: WitnessCase, seed = 1): Promise<CheckRow[]> {
  const values = drawInputs(c, seed);
  const want = await evaluate(c, values, 'cpu', seed);
  const got = await evaluate(c, values, 'webgpu', seed);
  const tolerance = c.gpuTolerance ?? DEFAULT_GPU_TOLERANCE;
  const row = (check: string, g: Float64Array, w: Float64Array): CheckRow => {
    const maxError = g.length === w.length ? maxRelativeError(g, w) : Infinity;
    return { op, label: c.label, check, maxError, tolerance, pass: maxError <= tolerance };
  };
  const rows = [row('webgpu output vs cpu', got.output, want.output)];
  want.grads.forEach((w, i) => {
    if (w) rows.push(row(`webgpu grad ${inputName(c, i)} vs cpu`, got.grads[i] ?? new Float64Array(0), w));
  });
  return rows;
}

/**
 * The whole check of one case, as `node cli/gradcheck.js` runs it: the CPU tape's gradients against
 * finite differences, then (`gpu`, by default when WebGPU is the default backend) the WebGPU
 * forward and backward against the CPU. `name` labels the rows.
 */
export async function gradcheck(name: string, c: WitnessCase, options: { seed?: number; gpu?: boolean } = {}): Promise<CheckRow[]> {
  const seed = options.seed ?? 1;
  const rows = await checkAgainstFiniteDifferences(name, c, seed);
  if (options.gpu ?? defaultBackend() === 'webgpu') rows.push(...(await checkGpuAgainstCpu(name, c, seed)));
  return rows;
}

/** The rows as a table a student can read. */
export function formatCheckTable(rows: CheckRow[]): string {
  const header = ['op', 'case', 'check', 'max error', 'tolerance', 'pass'];
  const cells = rows.map((r) => [r.op, r.label, r.check, r.maxError.toExponential(2), r.tolerance.toExponential(0), r.pass ? 'yes' : 'NO']);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n') + '\n';
}
