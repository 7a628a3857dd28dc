// Matrix multiply with transpose flags and a fused bias: C = op(A) · op(B) + bias, where op is the
// identity or the transpose, on 2-D matrices or batches of them ([batch, rows, cols]; a 2-D B is
// shared across A's batch). Linear layers are matmul(x, W, transB) with W stored [out, in].
//
// Backward, with G = dL/dC and A' = op(A), B' = op(B):  dA' = G · B'ᵀ,  dB' = A'ᵀ · G,
// dbias = sum of G over rows (and batch). Each is again one matmul with flags chosen so no
// transpose is ever materialised: e.g. with transA, dA = (dA')ᵀ = B' · Gᵀ.
import { formatShape, type Shape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { planMatmul, type MatmulProblem } from './matmul-launch.ts';
import { dispatchSplitPlan } from '../webgpu/split-plan.ts';
import { apply, defineOp } from './op.ts';
import { sum, sumTo } from './reduce.ts';
import type { OpWitness } from './witness.ts';

export interface MatmulAttrs {
  transA: boolean;
  transB: boolean;
}

type Problem = MatmulProblem & { batch: number; aBatchStride: number; bBatchStride: number; cBatchStride: number };

function problem([a, b, bias]: Shape[], { transA, transB }: MatmulAttrs): Problem {
  const where = `matmul a${formatShape(a)}${transA ? 'ᵀ' : ''} b${formatShape(b)}${transB ? 'ᵀ' : ''}`;
  if (a.length < 2 || a.length > 3 || b.length < 2 || b.length > 3) throw new Error(`${where}: inputs must be 2-D or 3-D`);
  const batch = a.length === 3 ? a[0] : 1;
  if (b.length === 3 && (a.length !== 3 || b[0] !== batch)) throw new Error(`${where}: a 3-D b needs a 3-D a with the same batch`);
  const [ar, ac] = a.slice(-2);
  const [br, bc] = b.slice(-2);
  const [M, K] = transA ? [ac, ar] : [ar, ac];
  const [KB, N] = transB ? [bc, br] : [br, bc];
  if (K !== KB) throw new Error(`${where}: inner dimensions differ (${K} vs ${KB})`);
  if (bias && (bias.length !== 1 || bias[0] !== N)) throw new Error(`${where}: bias must have shape [${N}], got ${formatShape(bias)}`);
  return {
    M, N, K, batch, transA, transB,
    hasBias: bias !== undefined,
    aBatchStride: M * K,
    bBatchStride: b.length === 3 ? K * N : 0,
    cBatchStride: M * N,
  };
}

export const matmulOp = defineOp<MatmulAttrs>({
  name: 'matmul',
  inputs: ['a', 'b', 'bias?'],
  outputShapes: (shapes, attrs) => {
    const p = problem(shapes, attrs);
    return [shapes[0].length === 3 ? [p.batch, p.M, p.N] : [p.M, p.N]];
  },
  cpu: ([a, b, bias], [c], attrs) => {
    const p = problem([a.shape, b.shape, bias?.shape].filter((s): s is Shape => s !== undefined), attrs);
    for (let z = 0; z < p.batch; z++) {
      const ao = z * p.aBatchStride;
      const bo = z * p.bBatchStride;
      for (let i = 0; i < p.M; i++) {
        for (let j = 0; j < p.N; j++) {
          let acc = bias ? bias.data[j] : 0;
          for (let k = 0; k < p.K; k++) {
            const av = a.data[ao + (p.transA ? k * p.M + i : i * p.K + k)];
            const bv = b.data[bo + (p.transB ? j * p.K + k : k * p.N + j)];
            acc += av * bv;
          }
          c.data[z * p.cBatchStride + i * p.N + j] = acc;
        }
      }
    }
  },
  webgpu: (rt, [a, b, bias], [c], attrs) => {
    const p = problem([a.shape, b.shape, bias?.shape].filter((s): s is Shape => s !== undefined), attrs);
    const biasBuffer = bias?.buffer ?? rt.placeholder;
    // A split pass adds the bias (and applies the activation) once, in the sum of its slices.
    dispatchSplitPlan(rt, planMatmul(p, rt.kernels), [a.buffer, b.buffer, biasBuffer], c.buffer, 'matmul', [biasBuffer]);
  },
  backward: ({ grad: g, inputs: [a, b, bias], attrs: { transA, transB }, needs }) => {
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (needs[0]) da = transA ? matmul(b, g, { transA: transB, transB: true }) : matmul(g, b, { transA: false, transB: !transB });
    if (needs[1]) {
      db = transB ? matmul(g, a, { transA: true, transB: transA }) : matmul(a, g, { transA: !transA, transB: false });
      // A 2-D B shared across a batch gets the batch's gradients summed.
      if (db.rank === 3 && b.rank === 2) db = sum(db, 0);
    }
    const dbias = needs[2] && bias ? sumTo(g, bias.shape) : null;
    return [da, db, dbias];
  },
});

export function matmul(a: Tensor, b: Tensor, options: Partial<MatmulAttrs> & { bias?: Tensor } = {}): Tensor {
  const attrs = { transA: options.transA ?? false, transB: options.transB ?? false };
  return apply(matmulOp, options.bias ? [a, b, options.bias] : [a, b], attrs);
}

/** PyTorch's Linear: x [N, in] · weight[out, in]ᵀ + bias[out]. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  return matmul(x, weight, { transB: true, bias });
}

const flags = (transA: boolean, transB: boolean) => `${transA ? 'Aᵀ' : 'A'}${transB ? 'Bᵀ' : 'B'}`;

export const witnesses: OpWitness[] = [
  {
    op: 'matmul',
    cases: [
      ...[false, true].flatMap((transA) =>
        [false, true].map((transB) => ({
          label: `${flags(transA, transB)} M=7 K=13 N=5`,
          inputs: [{ shape: transA ? [13, 7] : [7, 13] }, { shape: transB ? [5, 13] : [13, 5] }],
          call: ([a, b]: Tensor[]) => matmul(a, b, { transA, transB }),
        })),
      ),
      // Sizes that are multiples of 4 but of no tile: the vec4 loads of the subgroup kernel, which
      // lavapipe takes for them (one, two and four rows of A per lane).
      ...[false, true].flatMap((transA) =>
        [false, true].map((transB) => ({
          label: `${flags(transA, transB)} M=36 K=20 N=44 (vec4-aligned)`,
          inputs: [{ shape: transA ? [20, 36] : [36, 20] }, { shape: transB ? [44, 20] : [20, 44] }],
          call: ([a, b]: Tensor[]) => matmul(a, b, { transA, transB }),
        })),
      ),
      {
        label: 'linear [8,24]·[12,24]ᵀ+bias (vec4-aligned)',
        inputs: [{ shape: [8, 24] }, { shape: [12, 24] }, { shape: [12] }],
        call: ([x, w, bias]) => linear(x, w, bias),
      },
      {
        label: 'batched [2,12,8]·[8,20] (shared B, vec4-aligned)',
        inputs: [{ shape: [2, 12, 8] }, { shape: [8, 20] }],
        call: ([a, b]) => matmul(a, b),
      },
      {
        label: 'linear [3,70]·[67,70]ᵀ+bias (crosses a 64 tile)',
        inputs: [{ shape: [3, 70] }, { shape: [67, 70] }, { shape: [67] }],
        call: ([x, w, bias]) => linear(x, w, bias),
      },
      // Under the hardware plan these split K: the skinny kernel (forward: lanes along k; input
      // gradient: along columns) and the tiles, then the sum of the splits with the bias once.
      {
        label: 'linear [3,300]·[20,300]ᵀ+bias (split-K skinny)',
        inputs: [{ shape: [3, 300] }, { shape: [20, 300] }, { shape: [20] }],
        call: ([x, w, bias]) => linear(x, w, bias),
      },
      {
        label: 'batched [2,20,150]·[2,150,12] (split-K tiles)',
        inputs: [{ shape: [2, 20, 150] }, { shape: [2, 150, 12] }],
        call: ([a, b]) => matmul(a, b),
      },
      {
        label: 'batched [2,4,6]·[6,3] (shared B)',
        inputs: [{ shape: [2, 4, 6] }, { shape: [6, 3] }],
        call: ([a, b]) => matmul(a, b),
      },
      {
        label: 'M=1 K=1 N=1',
        inputs: [{ shape: [1, 1] }, { shape: [1, 1] }],
        call: ([a, b]) => matmul(a, b),
      },
    ],
  },
];
