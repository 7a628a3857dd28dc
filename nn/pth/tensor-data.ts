// A tensor's elements gathered from its storage's bytes in row-major order, as the NamedArray a
// safetensors file holds. Every floating type becomes F32, the networks' parameter type: float64
// rounds to the nearest float32 as tensor.float() does, float16 and bfloat16 widen exactly (bit
// by bit, NaN payloads included); int64, int32, uint8 and bool keep their integer types.
import type { NamedArray } from '../safetensors.ts';
import { ITEM_BYTES, type TensorRef, type TorchDtype } from './torch-globals.ts';

/**
 * The most elements one file's tensors may hold in all (1 GiB as float32; the full-size SepBN
 * network has 42.9 million). A stride of 0 lets a few pickle bytes describe a tensor of any size
 * over a one-element storage, so the bound is on what is gathered, not only on what is stored.
 */
export const MAX_ELEMENTS = 2 ** 28;

/** float16 bits -> float32 bits, exactly (subnormals normalised, Inf and NaN kept). */
function halfToFloatBits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exponent = (h >> 10) & 0x1f;
  let fraction = h & 0x3ff;
  if (exponent === 0x1f) return (sign | 0x7f800000 | (fraction << 13)) >>> 0;
  if (exponent !== 0) return (sign | ((exponent + 112) << 23) | (fraction << 13)) >>> 0;
  if (fraction === 0) return sign >>> 0;
  // A subnormal half is fraction * 2^-24: shift its leading one up to the implicit bit.
  let shifts = 0;
  while (!(fraction & 0x400)) {
    fraction <<= 1;
    shifts++;
  }
  return (sign | ((113 - shifts) << 23) | ((fraction & 0x3ff) << 13)) >>> 0;
}

/** Row-major element count, refusing products past the limit before they are allocated. */
export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const size of shape) {
    count *= size;
    if (count > MAX_ELEMENTS) return Infinity;
  }
  return count;
}

/** The output array of `count` elements, and how to copy storage element `at` into its element `k`. */
function elementReader(dtype: TorchDtype, count: number, shape: readonly number[], raw: Uint8Array, littleEndian: boolean): { result: NamedArray; read: (k: number, at: number) => void } {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const floats = () => {
    const data = new Float32Array(count);
    return { data, bits: new Uint32Array(data.buffer), result: { dtype: 'F32', shape: [...shape], data } satisfies NamedArray };
  };
  switch (dtype) {
    case 'float32': {
      const { bits, result } = floats();
      return { result, read: (k, at) => (bits[k] = view.getUint32(at * 4, littleEndian)) };
    }
    case 'float64': {
      const { data, result } = floats();
      return { result, read: (k, at) => (data[k] = view.getFloat64(at * 8, littleEndian)) };
    }
    case 'float16': {
      const { bits, result } = floats();
      return { result, read: (k, at) => (bits[k] = halfToFloatBits(view.getUint16(at * 2, littleEndian))) };
    }
    case 'bfloat16': {
      // bfloat16 is the top half of a float32.
      const { bits, result } = floats();
      return { result, read: (k, at) => (bits[k] = (view.getUint16(at * 2, littleEndian) << 16) >>> 0) };
    }
    case 'int64': {
      const data = new BigInt64Array(count);
      return { result: { dtype: 'I64', shape: [...shape], data }, read: (k, at) => (data[k] = view.getBigInt64(at * 8, littleEndian)) };
    }
    case 'int32': {
      const data = new Int32Array(count);
      return { result: { dtype: 'I32', shape: [...shape], data }, read: (k, at) => (data[k] = view.getInt32(at * 4, littleEndian)) };
    }
    case 'uint8': {
      const data = new Uint8Array(count);
      return { result: { dtype: 'U8', shape: [...shape], data }, read: (k, at) => (data[k] = raw[at]) };
    }
    case 'bool': {
      const data = new Uint8Array(count);
      return { result: { dtype: 'BOOL', shape: [...shape], data }, read: (k, at) => (data[k] = raw[at] === 0 ? 0 : 1) };
    }
  }
}

/**
 * Copies `tensor` out of `raw`, the bytes of its whole storage (`key` in the archive or the
 * stream), checking that every element it addresses lies inside that storage.
 */
export function tensorElements(tensor: TensorRef, raw: Uint8Array, littleEndian: boolean, fail: (problem: string) => Error): NamedArray {
  const { shape, stride, storage } = tensor;
  const dtype = storage.dtype;
  const item = ITEM_BYTES[dtype];
  const count = elementCount(shape);
  if (count === Infinity) throw fail(`size [${shape.join(',')}] claims more than ${MAX_ELEMENTS} elements`);
  const base = storage.offset + tensor.offset;
  if (count > 0) {
    const last = base + shape.reduce((sum, size, d) => sum + (size - 1) * stride[d], 0);
    if (last >= storage.offset + storage.numel || (last + 1) * item > raw.length) {
      throw fail(
        `size [${shape.join(',')}], stride [${stride.join(',')}] at offset ${tensor.offset} reach element ${last} of storage ${storage.key}, ` +
          `which holds ${Math.min(storage.offset + storage.numel, raw.length / item)}: the storage is shorter than its tensor`,
      );
    }
  }
  const { result, read } = elementReader(dtype, count, shape, raw, littleEndian);
  // Walk the indices in row-major order, moving the storage position by each dimension's stride.
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  let at = base;
  for (let k = 0; k < count; k++) {
    read(k, at);
    for (let d = rank - 1; d >= 0; d--) {
      index[d]++;
      at += stride[d];
      if (index[d] < shape[d]) break;
      at -= stride[d] * shape[d];
      index[d] = 0;
    }
  }
  return result;
}
