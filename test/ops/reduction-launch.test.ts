// The launch arithmetic of the grid-wide reductions, from shapes alone (no GPU): how many workgroups
// BatchNorm's statistics, its backward sums and the convolution bias gradient dispatch at the
// full-size model's shapes, and the split rule behind them.
//
// The rule (engine/ops/reduce.ts, splitReduction): `outputs` results of `length` values each run
// as outputs x splits workgroups, splits = min(ceil(264 / outputs), floor(length / 4096)) and at
// least 1, so every slice holds 4096 values or more, and the 264 workgroups a large GPU wants (two
// per multiprocessor of an H100) are reached whenever length >= ceil(264 / outputs) * 4096.
import t from 'tap';
import { batchNormBackwardSumsLaunch, batchNormStatsLaunches, BN_EPS } from '../../engine/ops/batch-norm.ts';
import { MIN_SPLIT_LENGTH, splitReduction, sumLaunches } from '../../engine/ops/reduce.ts';
import { FILL_WORKGROUPS } from '../../engine/webgpu/grid.ts';
import type { KernelLaunch } from '../../engine/webgpu/launch.ts';
import { FULL_CHANNELS, INPUT_SIZE } from '../../models/vanilla-cnn.ts';

const count = (launch: KernelLaunch) => launch.workgroups[0] * launch.workgroups[1] * launch.workgroups[2];
/** Whether a launch folded into x and y rows dispatches `wanted` workgroups, and less than a row more. */
const covers = (launch: KernelLaunch, wanted: number) => count(launch) >= wanted && launch.workgroups[0] * (launch.workgroups[1] - 1) < wanted;
const invocations = (launch: KernelLaunch) => launch.constants?.WORKGROUP_SIZE ?? 64;

/** Each convolution layer's output, which BatchNorm normalises and whose gradient sums to the bias gradient. */
const layerShapes = [8, 64].flatMap((N) => FULL_CHANNELS.map((C, i) => ({ N, C, side: INPUT_SIZE >> i })));

t.test('the split rule: slices of at least MIN_SPLIT_LENGTH, the target reached where the values allow', async (t) => {
  for (const outputs of [1, 3, 64, 100, 263, 264, 2048]) {
    for (const length of [1, 33, 4095, 4096, 8191, 12289, 131072, 1 << 20, 1 << 24]) {
      const { splits, longestSlice } = splitReduction(outputs, length);
      const label = `${outputs} outputs of ${length} values: ${splits} slices`;
      t.ok(splits >= 1 && Number.isInteger(splits), `${label}: a whole number of slices`);
      t.equal(longestSlice, Math.ceil(length / splits), `${label}: slices differ by one value at most`);
      if (splits > 1) t.ok(Math.floor(length / splits) >= MIN_SPLIT_LENGTH, `${label}: none shorter than ${MIN_SPLIT_LENGTH}`);
      const allowed = length >= Math.ceil(FILL_WORKGROUPS / outputs) * MIN_SPLIT_LENGTH;
      if (allowed) t.ok(outputs * splits >= FILL_WORKGROUPS, `${label}: reaches ${FILL_WORKGROUPS} workgroups`);
      else t.equal(splits, Math.max(1, Math.floor(length / MIN_SPLIT_LENGTH)), `${label}: as many slices as the minimum length allows`);
      t.ok(splits === 1 || outputs * (splits - 1) < FILL_WORKGROUPS, `${label}: no more slices than the target needs`);
    }
  }
});

t.test('BatchNorm statistics reach the target at every layer of the full-size model, batch 8 and 64', async (t) => {
  for (const { N, C, side } of layerShapes) {
    const plan = batchNormStatsLaunches([N, C, side, side]);
    const [slices, combine] = plan.launches;
    const label = `x[${N},${C},${side},${side}]`;
    t.equal(slices.kernel, 'batch_norm_stats');
    t.ok(covers(slices, C * plan.splits), `${label}: one workgroup per channel and slice`);
    t.ok(count(slices) >= FILL_WORKGROUPS, `${label}: ${count(slices)} workgroups >= ${FILL_WORKGROUPS}`);
    t.ok(invocations(slices) >= 64, `${label}: ${invocations(slices)} invocations a workgroup`);
    if (plan.splits === 1) {
      t.equal(plan.launches.length, 1, `${label}: one pass, no scratch`);
      t.equal(plan.scratchFloats, 0);
    } else {
      t.equal(combine.kernel, 'batch_norm_stats_combine', `${label}: ${plan.splits} slices, then the combine`);
      t.equal(plan.scratchFloats, C * plan.splits);
      t.ok(count(combine) * invocations(combine) >= C, `${label}: the combine covers every channel`);
    }
  }
  // Layer 1 at batch 8: 64 channels of 131072 values, cut into 5 slices of 26215 or 26214.
  t.equal(batchNormStatsLaunches([8, 64, 128, 128]).splits, 5);
  t.equal(batchNormStatsLaunches([64, 64, 128, 128]).splits, 5);
  // Layer 4 at batch 8: 512 channels fill the GPU alone.
  t.equal(batchNormStatsLaunches([8, 512, 16, 16]).splits, 1);
});

t.test('the convolution bias gradient (sum over [0,2,3]) reaches the target at every layer', async (t) => {
  for (const { N, C, side } of layerShapes) {
    const plan = sumLaunches([N, C, side, side], [0, 2, 3], 1);
    const [partials, combine] = plan.launches;
    const label = `dy[${N},${C},${side},${side}]`;
    t.equal(partials.kernel, 'sum', `${label}: a workgroup per channel and slice`);
    t.ok(covers(partials, C * plan.splits));
    t.ok(count(partials) >= FILL_WORKGROUPS, `${label}: ${count(partials)} workgroups >= ${FILL_WORKGROUPS}`);
    t.ok(invocations(partials) >= 64, `${label}: ${invocations(partials)} invocations a workgroup`);
    if (plan.splits > 1) {
      t.equal(combine.kernel, 'sum_partials', `${label}: ${plan.splits} slices, then the combine`);
      t.equal(plan.scratchFloats, C * plan.splits);
    } else {
      t.equal(plan.launches.length, 1, `${label}: one pass`);
    }
  }
  t.equal(sumLaunches([8, 64, 128, 128], [0, 2, 3], 1).splits, 5, 'layer 1, batch 8: 5 slices of 26 k values, 320 workgroups');
});

t.test("BatchNorm's backward sums, one workgroup per (sample, channel), already reach the target", async (t) => {
  for (const { N, C, side } of layerShapes) {
    const launch = batchNormBackwardSumsLaunch([N, C, side, side], { eps: BN_EPS, slope: 0.01 }, true);
    t.ok(covers(launch, N * C), `x[${N},${C},${side},${side}]: ${N * C} workgroups`);
    t.ok(count(launch) >= FILL_WORKGROUPS);
  }
});

t.test('short and few reductions keep one pass', async (t) => {
  // SepBN's K = 3 parameter sets and the [N, C] sums after the backward reduce: one invocation an output.
  t.same(sumLaunches([8, 64], [0], 1).launches.map((l) => l.kernel), ['sum_short']);
  // A batch of 64 is summed per channel in one workgroup: 64 values are far below a slice.
  t.same(sumLaunches([64, 2048], [0], 1).launches.map((l) => l.kernel), ['sum']);
  // One output of many values (a mean loss over a large tensor) is cut into up to 264 slices.
  const all = sumLaunches([64, 64, 128, 128], [0, 1, 2, 3], 1 / 67108864);
  t.equal(all.splits, FILL_WORKGROUPS);
  t.equal(count(all.launches[0]), FILL_WORKGROUPS);
});
