// Stochastic gradient descent with torch.optim.SGD's update (dampening 0, no Nesterov):
//   g = grad + weight_decay * p
//   buf = g at a parameter's first step, then buf = momentum * buf + g
//   p = p - lr * buf                          (p = p - lr * g when momentum is 0: no buffer kept)
import { elementwiseGrid } from '../../engine/webgpu/grid.ts';
import { defineUniformStruct } from '../../engine/webgpu/launch.ts';
import type { WebGpuRuntime } from '../../engine/webgpu/runtime.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { ParameterOptimizer, rejectUnknownOptions, requireInRange, type GpuChunk } from './parameter-optimizer.ts';

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
  ['total', 'u32'],
  ['rowStride', 'u32'],
  ['firstStep', 'u32'],
  ['lr', 'f32'],
  ['momentum', 'f32'],
  ['weightDecay', 'f32'],
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

  protected updateGpu(rt: WebGpuRuntime, chunk: GpuChunk, step: number, describe: string): void {
    const grid = elementwiseGrid(chunk.elements);
    const hasMomentum = this.stateNames.length > 0;
    rt.dispatch(
      {
        kernel: 'sgd_step',
        constants: { MOMENTUM: hasMomentum ? 1 : 0 },
        access: ['read_write', 'read', 'read_write'],
        uniforms: SgdStepParams.pack({
          total: chunk.elements,
          rowStride: grid.rowStride,
          firstStep: step === 1 ? 1 : 0,
          lr: this.lr,
          momentum: this.momentum,
          weightDecay: this.weightDecay,
        }),
        workgroups: grid.workgroups,
        describe: `SGD ${describe}`,
      },
      hasMomentum ? chunk.bindings : [...chunk.bindings, rt.placeholder],
    );
  }
}
