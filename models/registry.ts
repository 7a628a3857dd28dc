// The networks by the names users type: the paper's baseline, its SepBN method, and the obvious
// BatchNorm ablation.
import { defaultConfig, FULL_CHANNELS, VanillaCnn, type Norm, type VanillaCnnConfig } from './vanilla-cnn.ts';

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
  const model = new VanillaCnn(config);
  model.describeMismatch = describeMismatch;
  return model;
}

type ShapesByName = ReadonlyMap<string, { shape: readonly number[] }>;

/**
 * Which network, at which width, a state dict is, by its names (SepBN layers hold bnN.bn.K.*,
 * BatchNorm layers bnN.*, the baseline neither) and conv1's 64 / width output channels; undefined
 * when it is none of them.
 */
export function identifyStateDict(tensors: ShapesByName): { model: ModelName; width: number } | undefined {
  const width = widthOfConv1(tensors.get('conv1.weight')?.shape);
  return width === undefined ? undefined : { model: modelNameOfTensorNames(tensors.keys()), width };
}

/** The network a state dict's tensor names say: SepBN layers hold bnN.bn.K.*, BatchNorm layers bnN.*, the baseline neither. */
export function modelNameOfTensorNames(names: Iterable<string>): ModelName {
  const list = [...names];
  if (list.some((n) => /^bn\d+\.bn\.\d+\./.test(n))) return 'sepbn';
  return list.some((n) => /^bn\d+\./.test(n)) ? 'bn' : 'baseline';
}

/** The width divisor W whose 64 / W output channels conv1.weight [64/W, 3, 3, 3] has; undefined for a shape no width gives. */
export function widthOfConv1(shape: readonly number[] | undefined): number | undefined {
  return shape?.length === 4 && shape[0] > 0 && FULL_CHANNELS[0] % shape[0] === 0 ? FULL_CHANNELS[0] / shape[0] : undefined;
}

/** "a baseline checkpoint, you asked for sepbn" (or the widths) when a state dict is another network than the one wanted. */
function describeMismatch(wanted: ShapesByName, found: ShapesByName): string | undefined {
  const [want, have] = [identifyStateDict(wanted), identifyStateDict(found)];
  if (!want || !have) return undefined;
  if (want.model !== have.model) {
    return want.width === have.width ? `a ${have.model} checkpoint, you asked for ${want.model}` : `a ${have.model} checkpoint of width 1/${have.width}, you asked for ${want.model} of width 1/${want.width}`;
  }
  return want.width !== have.width ? `a ${have.model} checkpoint of width 1/${have.width}, you asked for width 1/${want.width}` : undefined;
}
