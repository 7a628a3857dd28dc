// The networks by the names users type: the paper's baseline, its SepBN method, and the obvious
// BatchNorm ablation.
import { defaultConfig, VanillaCnn, type Norm, type VanillaCnnConfig } from './vanilla-cnn.ts';

export const MODEL_NAMES = ['baseline', 'sepbn', 'bn'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

const NORM_OF: Record<ModelName, Norm> = { baseline: 'none', sepbn: 'sepbn', bn: 'bn' };

export function isModelName(name: unknown): name is ModelName {
  return typeof name === 'string' && (MODEL_NAMES as readonly string[]).includes(name);
}

export function modelConfig(name: ModelName, width = 1, seed = 0): VanillaCnnConfig {
  return defaultConfig(NORM_OF[name], width, seed);
}

export function modelNameOf(config: VanillaCnnConfig): ModelName {
  return (Object.keys(NORM_OF) as ModelName[]).find((n) => NORM_OF[n] === config.norm)!;
}

export function buildModel(config: VanillaCnnConfig): VanillaCnn {
  return new VanillaCnn(config);
}
