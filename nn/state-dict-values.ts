// A module's state dict as host arrays and back, with no file in sight: state-dict.ts reads and
// writes the files in Node, a page assigns what it parsed from a file picker. Every name and shape
// is checked, and a mismatch says exactly which tensors are missing, extra or mis-shaped.
import { assignValues } from '../engine/assign.ts';
import { formatShape, sameShape } from '../engine/shape.ts';
import type { Tensor } from '../engine/tensor.ts';
import { Counter, type Module } from './module.ts';
import type { NamedArray, SafetensorsDtype } from './safetensors-format.ts';

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

/** The dtypes a slot takes: a float parameter or buffer any float, a count any integer (a float count is float bytes, not a count). */
const FLOAT_DTYPES: readonly SafetensorsDtype[] = ['F32', 'F64', 'F16'];
const COUNT_DTYPES: readonly SafetensorsDtype[] = ['I64', 'I32', 'U8'];

/** A mismatch names this many tensors of each kind, then a count: a whole other network's names make a line of kilobytes. */
const NAMES_SHOWN = 3;

function listed(what: string, items: string[], separator: string): string {
  if (items.length === 0) return '';
  const more = items.length > NAMES_SHOWN ? ` and ${items.length - NAMES_SHOWN} more` : '';
  return `${what} ${items.length}: ${items.slice(0, NAMES_SHOWN).join(separator)}${more}`;
}

/**
 * Says what network a state dict is when it is another one than the module's (a Module's
 * `describeMismatch`, e.g. "a baseline checkpoint, you asked for sepbn"), from the names and shapes of both.
 */
export type MismatchDescriber = (wanted: ReadonlyMap<string, { shape: readonly number[] }>, found: ReadonlyMap<string, { shape: readonly number[] }>) => string | undefined;

/**
 * Checks a file's tensors against named slots (names, shapes and dtypes); throws one error listing
 * a few of each problem with counts, led by what the file is when `describe` recognises another network.
 */
export function checkNames(file: string, expected: Array<[string, Tensor | Counter]>, found: Map<string, NamedArray>, describe?: MismatchDescriber): void {
  const missing: string[] = [];
  const misShaped: string[] = [];
  const misTyped: string[] = [];
  for (const [name, slot] of expected) {
    const t = found.get(name);
    if (!t) missing.push(name);
    else if (slot instanceof Counter ? t.shape.length > 1 || (t.shape[0] ?? 1) !== 1 : !sameShape(slot.shape, t.shape)) {
      misShaped.push(`${name}: file ${formatShape(t.shape)}, model ${slot instanceof Counter ? '[] (a count)' : formatShape(slot.shape)}`);
    } else if (!(slot instanceof Counter ? COUNT_DTYPES : FLOAT_DTYPES).includes(t.dtype)) {
      misTyped.push(`${name}: file ${t.dtype}, model ${slot instanceof Counter ? `an integer count (${COUNT_DTYPES.join(', ')})` : `floats (${FLOAT_DTYPES.join(', ')})`}`);
    }
  }
  const names = new Set(expected.map(([n]) => n));
  const extra = [...found.keys()].filter((n) => !names.has(n));
  if (missing.length || misShaped.length || misTyped.length || extra.length) {
    const parts = [listed('missing', missing, ', '), listed('mis-shaped', misShaped, '; '), listed('wrong dtype', misTyped, '; '), listed('extra', extra, ', ')].filter(Boolean);
    const wanted = new Map(expected.map(([n, slot]) => [n, { shape: slot instanceof Counter ? [] : slot.shape }]));
    const other = describe?.(wanted, found);
    const lead = other ? `${file} is ${other}` : `${file} does not match the model`;
    throw new StateDictError(`${lead} (${parts.join(' | ')})${other ? '' : '. Is it a checkpoint of this model and width?'}`);
  }
}

/** Assigns named arrays (a parsed safetensors file, `file` naming it in errors) to the module's weights and buffers in place. */
export function assignStateDict(file: string, module: Module, tensors: Map<string, NamedArray>): void {
  const expected = module.stateDict();
  checkNames(file, expected, tensors, module.describeMismatch);
  for (const [name, slot] of expected) {
    const t = tensors.get(name)!;
    if (slot instanceof Counter) slot.value = Number(t.data[0]);
    else assignValues(slot, t.data instanceof BigInt64Array ? Array.from(t.data, Number) : t.data);
  }
}
