// Saving and loading a module's state dict as safetensors, with PyTorch's names: every name and
// shape is checked, and a mismatch says exactly which tensors are missing, extra or mis-shaped.
import { assignValues } from '../engine/assign.ts';
import { formatShape, sameShape } from '../engine/shape.ts';
import type { Tensor } from '../engine/tensor.ts';
import { Counter, type Module } from './module.ts';
import { readSafetensors, writeSafetensors, type NamedArray } from './safetensors.ts';

export class StateDictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateDictError';
  }
}

/** Host copies of named tensors (F32) and counters (I64), ready for a safetensors file. */
export async function toNamedArrays(entries: Array<[string, Tensor | Counter]>): Promise<Array<[string, NamedArray]>> {
  const out: Array<[string, NamedArray]> = [];
  for (const [name, t] of entries) {
    if (t instanceof Counter) out.push([name, { dtype: 'I64', shape: [], data: BigInt64Array.of(BigInt(t.value)) }]);
    else out.push([name, { dtype: 'F32', shape: [...t.shape], data: Float32Array.from(await t.toArray()) }]);
  }
  return out;
}

export async function saveStateDict(file: string, module: Module, metadata: Record<string, string> = {}): Promise<void> {
  writeSafetensors(file, await toNamedArrays(module.stateDict()), metadata);
}

/** Checks a file's tensors against named slots; throws one error listing every problem. */
export function checkNames(file: string, expected: Array<[string, Tensor | Counter]>, found: Map<string, NamedArray>): void {
  const missing: string[] = [];
  const misShaped: string[] = [];
  for (const [name, slot] of expected) {
    const t = found.get(name);
    if (!t) missing.push(name);
    else if (slot instanceof Counter ? t.shape.length > 1 || (t.shape[0] ?? 1) !== 1 : !sameShape(slot.shape, t.shape)) {
      misShaped.push(`${name}: file ${formatShape(t.shape)}, model ${slot instanceof Counter ? '[] (a count)' : formatShape(slot.shape)}`);
    }
  }
  const names = new Set(expected.map(([n]) => n));
  const extra = [...found.keys()].filter((n) => !names.has(n));
  if (missing.length || misShaped.length || extra.length) {
    const parts = [
      missing.length ? `missing ${missing.length}: ${missing.join(', ')}` : '',
      misShaped.length ? `mis-shaped ${misShaped.length}: ${misShaped.join('; ')}` : '',
      extra.length ? `extra ${extra.length}: ${extra.join(', ')}` : '',
    ].filter(Boolean);
    throw new StateDictError(`${file} does not match the model (${parts.join(' | ')}). Is it a checkpoint of this model and width?`);
  }
}

/** Loads weights and buffers into the module in place; returns the file's metadata. */
export function loadStateDict(file: string, module: Module): Record<string, string> {
  const { tensors, metadata } = readSafetensors(file);
  const expected = module.stateDict();
  checkNames(file, expected, tensors);
  for (const [name, slot] of expected) {
    const t = tensors.get(name)!;
    if (slot instanceof Counter) slot.value = Number(t.data[0]);
    else assignValues(slot, t.data instanceof BigInt64Array ? Array.from(t.data, Number) : t.data);
  }
  return metadata;
}
