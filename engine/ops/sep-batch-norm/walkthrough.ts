// One SepBN layer spelled out stage by stage on a tensor small enough to print: the forward
// intermediates in DESIGN.md's names, then the gradient reaching each of them in the order the
// tape runs, each confirmed by central finite differences taken at that very intermediate (the
// stages after it are recomputed with it perturbed). `node cli/explain.js sepbn` prints it, and
// the page of `node cli/explain.js sepbn --serve` draws it, computed on the browser's WebGPU.
import { backward } from '../../autodiff.ts';
import { tensor } from '../../create.ts';
import { cpuData } from '../../cpu-storage.ts';
import { Random } from '../../random.ts';
import { scope } from '../../scope.ts';
import { noGrad, type BackendName, type Tensor } from '../../tensor.ts';
import { add, leakyRelu, mul, rsqrt, sub } from '../arith.ts';
import { BN_EPS } from '../batch-norm.ts';
import { matmul } from '../matmul.ts';
import { mean, sum } from '../reduce.ts';
import { mixAffine, sepBatchNormTrain, type SepBnWeights } from './sep-batch-norm.ts';
import { softmax } from '../softmax.ts';

export interface WalkthroughOptions {
  N: number;
  C: number;
  H: number;
  W: number;
  K: number;
  /** Channel groups G, each with its own attention over the K sets; C must be a multiple of G. */
  groups: number;
  hidden: number;
  temperature: number;
  seed: number;
  /**
   * The layer input x (N·C·H·W values, NCHW order, rounded to f32) in place of the one drawn from
   * the seed; the parameters are drawn from the seed either way, so editing x changes only x.
   */
  input?: ArrayLike<number>;
}

export const WALKTHROUGH_DEFAULTS: WalkthroughOptions = { N: 2, C: 4, H: 3, W: 3, K: 3, groups: 1, hidden: 2, temperature: 2, seed: 1 };

/** The options with defaults filled in, checked so that a bad one is named rather than failing deep in an op. */
export function walkthroughOptions(options: Partial<WalkthroughOptions> = {}): WalkthroughOptions {
  const o = { ...WALKTHROUGH_DEFAULTS, ...options };
  for (const name of ['N', 'C', 'H', 'W', 'K', 'groups', 'hidden'] as const) {
    if (!Number.isInteger(o[name]) || o[name] < 1) throw new Error(`walkthrough: ${name} must be a positive integer, got ${o[name]}`);
  }
  if (o.C % o.groups !== 0) throw new Error(`walkthrough: C=${o.C} channels do not split into groups=${o.groups} equal groups`);
  if (!(o.temperature > 0)) throw new Error(`walkthrough: the temperature must be above 0, got ${o.temperature}`);
  if (!Number.isInteger(o.seed)) throw new Error(`walkthrough: the seed must be an integer, got ${o.seed}`);
  const size = o.N * o.C * o.H * o.W;
  if (o.input !== undefined) {
    if (o.input.length !== size) throw new Error(`walkthrough: the input x [${o.N},${o.C},${o.H},${o.W}] needs ${size} values, got ${o.input.length}`);
    const bad = Array.from(o.input).findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new Error(`walkthrough: input value ${bad} is ${o.input[bad]}, not a finite number`);
  }
  return o;
}

type Env = Map<string, Tensor>;

interface Stage {
  name: string;
  formula: string;
  compute: (env: Env) => Tensor;
}

export interface WalkStep {
  phase: 'input' | 'forward' | 'backward';
  name: string;
  formula: string;
  shape: number[];
  values: Float64Array;
  /** Backward steps: the same gradient by central finite differences at this tensor (CPU, Float64). */
  finiteDifference?: Float64Array;
  /** Backward steps: largest |tape - finite difference| at this tensor. */
  finiteDifferenceError?: number;
}

const get = (env: Env, name: string) => env.get(name)!;

function stages(o: WalkthroughOptions): Stage[] {
  const gammas = (env: Env) => Array.from({ length: o.K }, (_, k) => get(env, `gamma_${k}`));
  const betas = (env: Env) => Array.from({ length: o.K }, (_, k) => get(env, `beta_${k}`));
  const perChannel = [0, 2, 3];
  return [
    { name: 'p', formula: 'p[n,c] = mean_hw x[n,c,h,w]   (the attention looks at the pooled input)', compute: (e) => mean(get(e, 'x'), [2, 3]) },
    { name: 'u', formula: 'u = p · W1ᵀ   (fc1, a 1x1 convolution C -> hidden)', compute: (e) => matmul(get(e, 'p'), get(e, 'W1').reshape([o.hidden, o.C]), { transB: true }) },
    { name: 'v', formula: 'v = leaky_relu(u)', compute: (e) => leakyRelu(get(e, 'u')) },
    { name: 'z', formula: 'z = v · W2ᵀ   (fc2, hidden -> K·G)', compute: (e) => matmul(get(e, 'v'), get(e, 'W2').reshape([o.K * o.groups, o.hidden]), { transB: true }) },
    {
      name: 'a',
      formula: `a[n,g,k] = softmax_k(z[n,g,k] / T), T = ${o.temperature}`,
      compute: (e) => softmax(get(e, 'z').reshape([o.N, o.groups, o.K]), 2, o.temperature),
    },
    { name: 'gamma_nc', formula: 'gamma_nc = sum_k a[n,g(c),k] gamma_k[c]', compute: (e) => mixAffine(get(e, 'a'), gammas(e)) },
    { name: 'beta_nc', formula: 'beta_nc = sum_k a[n,g(c),k] beta_k[c]', compute: (e) => mixAffine(get(e, 'a'), betas(e)) },
    { name: 'mu', formula: 'mu[c] = mean_{n,h,w} x   (one set of statistics serves all K sets)', compute: (e) => mean(get(e, 'x'), perChannel, true) },
    { name: 'xc', formula: 'xc = x - mu', compute: (e) => sub(get(e, 'x'), get(e, 'mu')) },
    { name: 'var', formula: 'var[c] = mean_{n,h,w} xc^2   (biased, as BatchNorm normalises)', compute: (e) => mean(mul(get(e, 'xc'), get(e, 'xc')), perChannel, true) },
    { name: 'invstd', formula: `invstd = 1 / sqrt(var + eps), eps = ${BN_EPS}`, compute: (e) => rsqrt(get(e, 'var'), BN_EPS) },
    { name: 'xhat', formula: 'xhat = xc · invstd', compute: (e) => mul(get(e, 'xc'), get(e, 'invstd')) },
    {
      name: 'y',
      formula: 'y = gamma_nc · xhat + beta_nc',
      compute: (e) => add(mul(get(e, 'xhat'), get(e, 'gamma_nc').reshape([o.N, o.C, 1, 1])), get(e, 'beta_nc').reshape([o.N, o.C, 1, 1])),
    },
    { name: 'L', formula: 'L = sum y · R   (R: a fixed random tensor, so every element of y matters)', compute: (e) => sum(mul(get(e, 'y'), get(e, 'R'))) },
  ];
}

function inputs(o: WalkthroughOptions): Array<{ name: string; formula: string; shape: number[]; values: Float64Array }> {
  const rng = new Random(o.seed);
  const draw = (shape: number[], f: () => number) => ({ shape, values: Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.fround(f())) });
  // x is drawn even when given, so the parameters after it are the seed's either way.
  const x = draw([o.N, o.C, o.H, o.W], () => rng.normal() + 0.5);
  if (o.input !== undefined) x.values = Float64Array.from(o.input, Math.fround);
  return [
    { name: 'x', formula: 'the layer input [N, C, H, W]', ...x },
    ...Array.from({ length: o.K }, (_, k) => ({ name: `gamma_${k}`, formula: `scale of set ${k} (bn.${k}.weight)`, ...draw([o.C], () => rng.uniform(0.5, 1.5)) })),
    ...Array.from({ length: o.K }, (_, k) => ({ name: `beta_${k}`, formula: `shift of set ${k} (bn.${k}.bias)`, ...draw([o.C], () => rng.uniform(-0.5, 0.5)) })),
    { name: 'W1', formula: 'fc1.weight [hidden, C, 1, 1]', ...draw([o.hidden, o.C, 1, 1], () => rng.normal()) },
    { name: 'W2', formula: 'fc2.weight [K·G, hidden, 1, 1]', ...draw([o.K * o.groups, o.hidden, 1, 1], () => rng.normal()) },
    { name: 'R', formula: 'the fixed projection defining L', ...draw([o.N, o.C, o.H, o.W], () => rng.uniform(-1, 1)) },
  ];
}

/** Forward from the given leaves (and any overridden intermediates), recording each stage. */
function run(o: WalkthroughOptions, backend: BackendName, overrides: Env = new Map(), requiresGrad = false): Env {
  const env: Env = new Map();
  for (const input of inputs(o)) {
    const t = overrides.get(input.name) ?? tensor(input.values, input.shape, { backend, requiresGrad: requiresGrad && input.name !== 'R', label: input.name });
    env.set(input.name, t);
  }
  for (const stage of stages(o)) {
    const t = overrides.get(stage.name) ?? stage.compute(env);
    t.label = stage.name;
    env.set(stage.name, t);
  }
  return env;
}

/** dL/d(name) by central differences on the CPU, recomputing only the stages after `name`. */
function finiteDifference(o: WalkthroughOptions, base: Env, name: string): Float64Array {
  const eps = 1e-6;
  const data = cpuData(base.get(name)!);
  const grad = new Float64Array(data.length);
  const order = [...inputs(o).map((i) => i.name), ...stages(o).map((s) => s.name)];
  const upTo = order.indexOf(name);
  for (let j = 0; j < data.length; j++) {
    const saved = data[j];
    const loss = (value: number) =>
      scope(() => {
        data[j] = value;
        const kept: Env = new Map(order.slice(0, upTo + 1).map((n) => [n, base.get(n)!]));
        return cpuData(noGrad(() => run(o, 'cpu', kept)).get('L')!)[0];
      });
    grad[j] = (loss(saved + eps) - loss(saved - eps)) / (2 * eps);
    data[j] = saved;
  }
  return grad;
}

/** The walkthrough on a backend; finite differences always run on the Float64 CPU backend. */
export async function sepBnWalkthrough(backend: BackendName, options: Partial<WalkthroughOptions> = {}): Promise<WalkStep[]> {
  const o = walkthroughOptions(options);
  const formulas = new Map([...inputs(o), ...stages(o)].map((s) => [s.name, s.formula]));
  return scope(async () => {
    const env = run(o, backend, new Map(), true);
    const steps: WalkStep[] = [];
    for (const [name, t] of env) {
      steps.push({ phase: inputs(o).some((i) => i.name === name) ? 'input' : 'forward', name, formula: formulas.get(name)!, shape: [...t.shape], values: Float64Array.from(await t.toArray()) });
    }
    const named = new Map([...env].map(([name, t]) => [t.id, name]));
    const order: Array<{ name: string; grad: Tensor }> = [];
    backward(env.get('L')!, { retainGrads: true, onNode: (t, grad) => named.has(t.id) && order.push({ name: named.get(t.id)!, grad }) });
    const reference = noGrad(() => run(o, 'cpu'));
    for (const { name, grad } of order) {
      const values = Float64Array.from(await grad.toArray());
      const numeric = finiteDifference(o, reference, name);
      const finiteDifferenceError = numeric.reduce((m, v, i) => Math.max(m, Math.abs(v - values[i])), 0);
      steps.push({
        phase: 'backward',
        name: `dL/d${name}`,
        formula: `gradient reaching ${name} (${formulas.get(name)})`,
        shape: [...grad.shape],
        values,
        finiteDifference: numeric,
        finiteDifferenceError,
      });
    }
    return steps;
  });
}

/** One tensor of the layer as the fused kernels give it, beside the composite of primitive ops. */
export interface FusedComparison {
  /** The walkthrough's name for it: a, mu, var, y, or dL/d of an input. */
  name: string;
  shape: number[];
  fused: Float64Array;
  composite: Float64Array;
  /** max |fused - composite|. */
  maxDifference: number;
}

/**
 * The layer as training runs it, sepBatchNormTrain, from the walkthrough's inputs and with its
 * loss (dL/dy = R): the fused kernels (batch_norm_*, mix_affine) beside the composite of primitive
 * ops, forward and every input's gradient.
 */
export async function sepBnFusedComparison(backend: BackendName, options: Partial<WalkthroughOptions> = {}): Promise<FusedComparison[]> {
  const o = walkthroughOptions(options);
  const values = new Map(inputs(o).map((i) => [i.name, i]));
  const sets = Array.from({ length: o.K }, (_, k) => k);
  const once = (fused: boolean) =>
    scope(async () => {
      const leaf = (name: string, requiresGrad = true) => tensor(values.get(name)!.values, values.get(name)!.shape, { backend, requiresGrad, label: name });
      const x = leaf('x');
      const w: SepBnWeights = { gammas: sets.map((k) => leaf(`gamma_${k}`)), betas: sets.map((k) => leaf(`beta_${k}`)), fc1: leaf('W1'), fc2: leaf('W2') };
      const out = sepBatchNormTrain(x, w, { groups: o.groups, temperature: o.temperature }, fused);
      backward(out.y, { grad: leaf('R', false) });
      const named: Array<[string, Tensor]> = [
        ['a', out.attention],
        ['mu', out.mean],
        ['var', out.variance],
        ['y', out.y],
        ['dL/dx', x.grad!],
        ['dL/dW1', w.fc1.grad!],
        ['dL/dW2', w.fc2.grad!],
        ...sets.map((k): [string, Tensor] => [`dL/dgamma_${k}`, w.gammas[k].grad!]),
        ...sets.map((k): [string, Tensor] => [`dL/dbeta_${k}`, w.betas[k].grad!]),
      ];
      const read: Array<{ name: string; shape: number[]; values: Float64Array }> = [];
      for (const [name, t] of named) read.push({ name, shape: [...t.shape], values: Float64Array.from(await t.toArray()) });
      return read;
    });
  const fused = await once(true);
  const composite = await once(false);
  return fused.map((f, i) => ({
    name: f.name,
    shape: f.shape,
    fused: f.values,
    composite: composite[i].values,
    maxDifference: f.values.reduce((m, v, j) => Math.max(m, Math.abs(v - composite[i].values[j])), 0),
  }));
}
