// Adam (Kingma & Ba) and AdamW (Loshchilov & Hutter) with torch.optim's exact update, per
// parameter, t counting this parameter's steps from 1:
//   g = grad + weight_decay * p                (Adam: L2 folded into the gradient)
//   p = p * (1 - lr * weight_decay)            (AdamW: decoupled decay, instead of the line above)
//   m = beta1 * m + (1 - beta1) * g            v = beta2 * v + (1 - beta2) * g^2
//   p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// eps sits outside the square root, after the bias correction of v, as in PyTorch.
import { defineUniformStruct } from '../../engine/webgpu/launch.ts';
import type { WebGpuRuntime } from '../../engine/webgpu/runtime.ts';
import { CHUNK_TABLE_VEC4S, chunkLaunch, ParameterOptimizer, rejectUnknownOptions, requireInRange, type GpuChunk } from './parameter-optimizer.ts';
import type { Tensor } from '../../engine/tensor.ts';

export interface AdamOptions {
  /** Default 1e-3. */
  lr?: number;
  /** Decay rates of the first and second moment averages; default [0.9, 0.999]. */
  betas?: [number, number];
  /** Added to the denominator outside the square root; default 1e-8. */
  eps?: number;
  /** Default 0. An L2 term in the gradient, or with `decoupled` AdamW's decay of the weights. */
  weightDecay?: number;
  /** AdamW: decay the weights directly instead of adding weight_decay * p to the gradient. */
  decoupled?: boolean;
}

const ADAM_OPTIONS = ['lr', 'betas', 'eps', 'weightDecay', 'decoupled'] as const;

/** The uniform struct of adam_step.wgsl. */
const AdamStepParams = defineUniformStruct('AdamStepParams', [
  ['l2Decay', 'f32'],
  ['decoupledDecayFactor', 'f32'],
  ['oneMinusBeta1', 'f32'],
  ['beta2', 'f32'],
  ['oneMinusBeta2', 'f32'],
  ['eps', 'f32'],
  ['stepSize', 'f32'],
  ['biasCorrection2Sqrt', 'f32'],
  ['workgroupEnds', `array<vec4<u32>, ${CHUNK_TABLE_VEC4S}>`],
  ['elements', `array<vec4<u32>, ${CHUNK_TABLE_VEC4S}>`],
  ['stateOffsets', `array<vec4<u32>, ${CHUNK_TABLE_VEC4S}>`],
]);

export class Adam extends ParameterOptimizer {
  protected readonly stateNames = ['exp_avg', 'exp_avg_sq'] as const;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly decoupled: boolean;

  constructor(params: Array<[string, Tensor]>, options: AdamOptions = {}) {
    const name = options.decoupled ? 'AdamW' : 'Adam';
    rejectUnknownOptions(name, options, ADAM_OPTIONS);
    super(name, params, options.lr ?? 1e-3);
    [this.beta1, this.beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    this.decoupled = options.decoupled ?? false;
    requireInRange(name, 'lr', this.lr, 0, Infinity);
    requireInRange(name, 'betas[0]', this.beta1, 0, 1, true);
    requireInRange(name, 'betas[1]', this.beta2, 0, 1, true);
    requireInRange(name, 'eps', this.eps, 0, Infinity);
    requireInRange(name, 'weightDecay', this.weightDecay, 0, Infinity);
  }

  /** The per-step scalars, in f64 on the host, as PyTorch computes them in Python floats. */
  private scalars(step: number) {
    const biasCorrection1 = 1 - this.beta1 ** step;
    const biasCorrection2 = 1 - this.beta2 ** step;
    return {
      l2Decay: this.decoupled ? 0 : this.weightDecay,
      decoupledDecayFactor: this.decoupled ? 1 - this.lr * this.weightDecay : 1,
      stepSize: this.lr / biasCorrection1,
      biasCorrection2Sqrt: Math.sqrt(biasCorrection2),
    };
  }

  protected updateCpu(param: Float64Array, grad: Float64Array, [expAvg, expAvgSq]: Float64Array[], step: number): void {
    const { l2Decay, decoupledDecayFactor, stepSize, biasCorrection2Sqrt } = this.scalars(step);
    const { beta1, beta2, eps } = this;
    for (let i = 0; i < param.length; i++) {
      const g = l2Decay !== 0 ? grad[i] + l2Decay * param[i] : grad[i];
      const decayed = param[i] * decoupledDecayFactor;
      const m = beta1 * expAvg[i] + (1 - beta1) * g;
      const v = beta2 * expAvgSq[i] + (1 - beta2) * g * g;
      expAvg[i] = m;
      expAvgSq[i] = v;
      param[i] = decayed - stepSize * (m / (Math.sqrt(v) / biasCorrection2Sqrt + eps));
    }
  }

  protected updateGpu(rt: WebGpuRuntime, state: GPUBuffer[], chunks: GpuChunk[], step: number, describe: string): void {
    const s = this.scalars(step);
    const { workgroupEnds, elements, stateOffsets, workgroups } = chunkLaunch(chunks);
    rt.dispatch(
      {
        kernel: 'adam_step',
        unroll: { CHUNKS: chunks.length },
        access: ['read_write', 'read_write', ...chunks.flatMap(() => ['read_write', 'read'] as const)],
        uniforms: AdamStepParams.pack({
          l2Decay: s.l2Decay,
          decoupledDecayFactor: s.decoupledDecayFactor,
          oneMinusBeta1: 1 - this.beta1,
          beta2: this.beta2,
          oneMinusBeta2: 1 - this.beta2,
          eps: this.eps,
          stepSize: s.stepSize,
          biasCorrection2Sqrt: s.biasCorrection2Sqrt,
          workgroupEnds,
          elements,
          stateOffsets,
        }),
        workgroups,
        describe: `${this.name} ${describe}`,
      },
      [...state, ...chunks.flatMap((c) => [c.param, c.grad])],
    );
  }
}
