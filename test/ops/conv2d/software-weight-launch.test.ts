import t from 'tap';
import type { Conv2dProblem } from '../../../engine/ops/conv2d/problem.ts';
import { MAX_BINDING_BYTES } from '../../../engine/ops/conv2d/split-sums.ts';
import { MAX_WORKGROUPS_PER_DIMENSION, SPREAD_WORKGROUP_SIZE } from '../../../engine/webgpu/grid.ts';
import { conv2dBackwardWeightSubgroupLaunches } from '../../../engine/ops/conv2d/software-weight-launch.ts';

const LANES = 8;
const conv = (N: number, Ci: number, Co: number, H: number, W: number, more: Partial<Conv2dProblem> = {}): Conv2dProblem =>
  ({ N, Ci, H, W, Co, KH: 3, KW: 3, stride: 1, pad: 1, hasBias: true, activation: 'leaky_relu', slope: 0.01, ...more });
const layers = [[3, 64, 128], [64, 128, 64], [128, 256, 32], [256, 512, 16], [512, 1024, 8], [1024, 2048, 4]].map(
  ([Ci, Co, size]) => conv(8, Ci!, Co!, size!, size!),
);
const odd = [conv(2, 5, 7, 5, 8), conv(1, 1, 1, 1, 4), conv(3, 9, 33, 7, 12), conv(2, 17, 70, 3, 4), conv(2, 37, 70, 13, 12), conv(1, 3, 200, 2, 4)];
const problems = [...odd, ...layers, conv(512, 3, 64, 128, 128), conv(64, 1024, 2048, 4, 4)];

function planOf(p: Conv2dProblem) {
  const plan = conv2dBackwardWeightSubgroupLaunches(p, LANES);
  if (!plan) throw new Error(`no plan for ${JSON.stringify(p)}`);
  return plan;
}

t.test('the workgroups cover every (co, ci) once, with less than a block to spare, and every image row', async (t) => {
  for (const p of problems) {
    const [partials] = planOf(p).launches;
    const { CI_BLOCK, CO_PER_LANE, LANES: lanes } = partials!.unroll!;
    const [x, y, z] = partials!.workgroups;
    const band = lanes! * CO_PER_LANE!;
    t.ok(x * CI_BLOCK! >= p.Ci && (x - 1) * CI_BLOCK! < p.Ci, `input channels of ${p.Ci}`);
    t.ok(y * band >= p.Co && (y - 1) * band < p.Co, `output channels of ${p.Co}`);
    const splitLength = new Uint32Array(partials!.uniforms)[11]!;
    const rows = p.N * p.H;
    t.ok(z * splitLength >= rows && (z - 1) * splitLength < rows, `${z} splits of ${splitLength} cover ${rows} rows, none empty`);
    t.ok([x, y, z].every((count) => count >= 1 && count <= MAX_WORKGROUPS_PER_DIMENSION), `workgroups ${x},${y},${z}`);
  }
});

t.test('the unroll parameters follow the shape', async (t) => {
  for (const p of problems) {
    const unroll = planOf(p).launches[0]!.unroll!;
    t.equal(unroll.LANES, LANES);
    t.equal(unroll.ROW_VEC4S, p.W / 4, 'the row width is compiled in');
    t.equal(unroll.CI_BLOCK, Math.min(p.Ci, 8));
    t.equal(unroll.STORE_VEC4, p.Ci % unroll.CI_BLOCK! === 0 && unroll.CI_BLOCK! % 4 === 0 ? 1 : 0, 'vec4 stores only where aligned');
  }
  t.equal(planOf(layers[0]!).launches[0]!.unroll!.CO_PER_LANE! * LANES, 64, 'the first layer\'s 64 output channels take one subgroup');
});

t.test('splits: one launch into dw, or partials within the binding limit and their sum', async (t) => {
  for (const p of problems) {
    const plan = planOf(p);
    const count = p.Co * p.Ci * 9;
    t.equal(plan.launches[0]!.workgroups[2], plan.splits);
    if (plan.splits === 1) {
      t.equal(plan.launches.length, 1);
      t.equal(plan.scratchFloats, 0);
      continue;
    }
    t.equal(plan.scratchFloats, plan.splits * count);
    t.ok(plan.scratchFloats * 4 <= MAX_BINDING_BYTES, `scratch of ${plan.scratchFloats} floats`);
    const sum = plan.launches[1]!;
    t.equal(sum.kernel, 'conv2d_sum_splits');
    t.same([...new Uint32Array(sum.uniforms).slice(0, 2)], [count, plan.splits]);
    t.ok(sum.workgroups[0] * sum.workgroups[2] * SPREAD_WORKGROUP_SIZE >= count, 'the sum covers dw');
  }
  // The first layers have few (co band, ci block) pairs: the split gives two CPU threads work.
  for (const p of layers) {
    const [x, y, z] = planOf(p).launches[0]!.workgroups;
    t.ok(x * y * z >= 32, `${x * y * z} workgroups for x[${p.N},${p.Ci},${p.H},${p.W}]`);
  }
  t.equal(planOf(layers[5]!).splits, 1, 'the last layer needs no split');
});

t.test('undefined where the kernel does not apply', async (t) => {
  t.equal(conv2dBackwardWeightSubgroupLaunches(conv(2, 5, 7, 5, 6), LANES), undefined, 'W not a multiple of 4');
  t.equal(conv2dBackwardWeightSubgroupLaunches(conv(2, 5, 7, 5, 8, { KH: 1, KW: 1, pad: 0 }), LANES), undefined, '1x1');
  t.equal(conv2dBackwardWeightSubgroupLaunches(conv(2, 5, 7, 5, 8, { stride: 2 }), LANES), undefined, 'stride 2');
  t.equal(conv2dBackwardWeightSubgroupLaunches(conv(2, 5, 7, 5, 8, { pad: 0 }), LANES), undefined, 'pad 0');
  t.throws(() => conv2dBackwardWeightSubgroupLaunches(conv(0, 5, 7, 5, 8), LANES), 'an empty batch is an error, not a plan');
});

t.test('the uniforms are the tiled conv kernels\' Conv2dParams', async (t) => {
  const p = conv(2, 37, 70, 13, 12);
  const u32 = new Uint32Array(planOf(p).launches[0]!.uniforms);
  t.same([...u32.slice(0, 8)], [2, 37, 13, 12, 70, 13, 12, 1], 'batch Ci H W Co Ho Wo pad');
});
