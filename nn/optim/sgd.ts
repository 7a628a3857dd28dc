// Stochastic gradient descent with torch.optim.SGD's update (dampening 0, no Nesterov):
//   g = grad + weight_decay * p
//   buf = g at a parameter's first step, then buf = momentum * buf + g
//   p = p - lr * buf                          (p = p - lr * g when momentum is 0: no buffer kept)
import { defineUniformStruct } from '../../engine/webgpu/launch.ts';
import type { WebGpuRuntime } from '../../engine/webgpu/runtime.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { CHUNK_TABLE_VEC4S, chunkLaunch, ParameterOptimizer, rejectUnknownOptions, requireInRange, type GpuChunk } from './parameter-optimizer.ts';

export interface SgdOptions {
  /** Default 1e-3. */
  lr?: number;
  /** Default 0, as in PyTorch (the training commands use 0.9: TRAINING_DEFAULTS). */
  momentum?: number;
  /** L2 term added to the gradient; default 0. */
  weightDecay?: number;
}

const SGD_OPTIONS = ['lr', 'momentum', 'weightDecay'] as const;

/** The uniform struct of sgd_step.wgsl. */
const SgdStepParams = defineUniformStruct('SgdStepParams', [
  ['firstStep', 'u32'],
  ['lr', 'f32'],
  ['momentum', 'f32'],
  ['weightDecay', 'f32'],
  ['workgroupEnds', `array<vec4<u32>, ${CHUNK_TABLE_VEC4S}>`],
  ['elements', `array<vec4<u32>, ${CHUNK_TABLE_VEC4S}>`],
  ['stateOffsets', `array<vec4<u32>, ${CHUNK_TABLE_VEC4S}>`],
]);

export class Sgd extends ParameterOptimizer {
  protected readonly stateNames: readonly string[];
  readonly momentum: number;
  readonly weightDecay: number;

  constructor(params: Array<[string, Tensor]>, options: SgdOptions = {}) {
    rejectUnknownOptions('SGD', options, SGD_OPTIONS);
    super('SGD', params, options.lr ?? 1e-3);
    this.momentum = options.momentum ?? 0;
    this.weightDecay = options.weightDecay ?? 0;
    requireInRange('SGD', 'lr', this.lr, 0, Infinity);
    requireInRange('SGD', 'momentum', this.momentum, 0, Infinity);
    requireInRange('SGD', 'weightDecay', this.weightDecay, 0, Infinity);
    this.stateNames = this.momentum !== 0 ? ['momentum_buffer'] : [];
  }

  protected updateCpu(param: Float64Array, grad: Float64Array, state: Float64Array[], step: number): void {
    const { lr, momentum, weightDecay } = this;
    const buffer = state[0] as Float64Array | undefined;
    for (let i = 0; i < param.length; i++) {
      let direction = weightDecay !== 0 ? grad[i] + weightDecay * param[i] : grad[i];
      if (buffer) {
        if (step > 1) direction = momentum * buffer[i] + direction;
        buffer[i] = direction;
      }
      param[i] -= lr * direction;
    }
  }

  protected updateGpu(rt: WebGpuRuntime, state: GPUBuffer[], chunks: GpuChunk[], step: number, describe: string): void {
    const { workgroupEnds, elements, stateOffsets, workgroups } = chunkLaunch(chunks);
    const momentum = this.stateNames.length > 0 ? 1 : 0;
    rt.dispatch(
      {
        kernel: 'sgd_step',
        unroll: { CHUNKS: chunks.length, MOMENTUM: momentum },
        access: [...state.map(() => 'read_write' as const), ...chunks.flatMap(() => ['read_write', 'read'] as const)],
        uniforms: SgdStepParams.pack({
          firstStep: step === 1 ? 1 : 0,
          lr: this.lr,
          momentum: this.momentum,
          weightDecay: this.weightDecay,
          workgroupEnds,
          elements,
          stateOffsets,
        }),
        workgroups,
        describe: `SGD ${describe}`,
      },
      [...state, ...chunks.flatMap((c) => [c.param, c.grad])],
    );
  }
}
