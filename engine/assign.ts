// Overwrites a kept tensor's values in place and in recording order: how running statistics are
// updated (and checkpoints loaded) without replacing the tensors a state dict refers to.
import { gpuRuntime } from './backend.ts';
import { cpuData, CpuStorage } from './cpu-storage.ts';
import { formatShape, sameShape } from './shape.ts';
import type { Tensor } from './tensor.ts';
import { elementwiseGrid } from './webgpu/grid.ts';
import { defineUniformStruct } from './webgpu/launch.ts';
import { gpuBuffer, GpuStorage } from './webgpu/storage.ts';

/** Overwrites a tensor's values from host data (checkpoint loading). */
export function assignValues(target: Tensor, values: ArrayLike<number>): void {
  if (values.length !== target.size) throw new Error(`assign: ${target.label}${formatShape(target.shape)} needs ${target.size} values, got ${values.length}`);
  if (target.storage instanceof CpuStorage) target.storage.data.set(Float64Array.from(values));
  else if (target.storage instanceof GpuStorage) target.storage.runtime.upload(target.storage.buffer, values instanceof Float32Array ? values : Float32Array.from(values));
}

/** One BatchNorm set's running statistics ([C] each), e.g. bn1.bn.0.running_mean and running_var. */
export interface RunningStatistics {
  mean: Tensor;
  variance: Tensor;
}

/** The uniform struct of running_statistics.wgsl. */
const RunningStatisticsParams = defineUniformStruct('RunningStatisticsParams', [
  ['C', 'u32'],
  ['rowStride', 'u32'],
  ['keep', 'f32'],
  ['meanWeight', 'f32'],
  ['varianceWeight', 'f32'],
]);

/**
 * BatchNorm's running averages, in place, for every set that normalised this batch:
 *   running_mean <- (1 - momentum) running_mean + momentum batchMean
 *   running_var  <- (1 - momentum) running_var + momentum count / (count - 1) batchVariance
 * batchVariance is the biased variance of `count` values per channel; running_var takes the
 * unbiased one, as PyTorch does. On the GPU one dispatch writes every set (SepBN's K sets at once),
 * or as few as the adapter's binding limit allows.
 */
export function updateRunningStatistics(sets: RunningStatistics[], batchMean: Tensor, batchVariance: Tensor, count: number, momentum: number): void {
  for (const t of [batchVariance, ...sets.flatMap((s) => [s.mean, s.variance])]) {
    if (!sameShape(t.shape, batchMean.shape) || t.backend !== batchMean.backend) {
      throw new Error(`updateRunningStatistics: ${t.label}${formatShape(t.shape)} on ${t.backend} does not match the batch mean ${formatShape(batchMean.shape)} on ${batchMean.backend}`);
    }
  }
  if (!(count > 1)) throw new Error(`updateRunningStatistics: the unbiased variance needs more than one value per channel, got ${count}`);
  const keep = 1 - momentum;
  const varianceWeight = (momentum * count) / (count - 1);
  if (batchMean.backend === 'cpu') {
    const [mean, variance] = [cpuData(batchMean), cpuData(batchVariance)];
    for (const set of sets) {
      const [runningMean, runningVar] = [cpuData(set.mean), cpuData(set.variance)];
      for (let c = 0; c < mean.length; c++) {
        runningMean[c] = runningMean[c] * keep + mean[c] * momentum;
        runningVar[c] = runningVar[c] * keep + variance[c] * varianceWeight;
      }
    }
    return;
  }
  const rt = gpuRuntime();
  const C = batchMean.size;
  const grid = elementwiseGrid(C);
  // Two bindings for the batch's statistics, two per set.
  const setsPerDispatch = Math.floor((rt.adapter.limits.maxStorageBuffersPerShaderStage - 2) / 2);
  for (let first = 0; first < sets.length; first += setsPerDispatch) {
    const chunk = sets.slice(first, first + setsPerDispatch);
    rt.dispatch(
      {
        kernel: 'running_statistics',
        unroll: { SETS: chunk.length },
        access: ['read', 'read', ...chunk.flatMap(() => ['read_write', 'read_write'] as const)],
        uniforms: RunningStatisticsParams.pack({ C, rowStride: grid.rowStride, keep, meanWeight: momentum, varianceWeight }),
        workgroups: grid.workgroups,
        describe: `running_statistics ${chunk.length} x [${C}]`,
      },
      [gpuBuffer(batchMean), gpuBuffer(batchVariance), ...chunk.flatMap((s) => [gpuBuffer(s.mean), gpuBuffer(s.variance)])],
    );
  }
}
