// The safetensors format, bytes in and bytes out, with no file in sight (nn/safetensors.ts reads
// and writes files with it in Node; a page parses what a file picker gives): an 8-byte
// little-endian header length, a JSON header {name: {dtype, shape, data_offsets: [begin, end]},
// "__metadata__": {string: string}}, then the raw little-endian tensor bytes.
export type SafetensorsDtype = 'F32' | 'F64' | 'F16' | 'I64' | 'I32' | 'U8' | 'BOOL';

export interface NamedArray {
  dtype: SafetensorsDtype;
  shape: number[];
  /** F32, F64 and F16 read as Float32Array/Float64Array; I64 as BigInt64Array; I32 as Int32Array; U8 and BOOL as Uint8Array. */
  data: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;
}

export class SafetensorsError extends Error {
  constructor(file: string, problem: string) {
    super(`${file}: not a readable safetensors file: ${problem}`);
    this.name = 'SafetensorsError';
  }
}

const BYTES: Record<SafetensorsDtype, number> = { F32: 4, F64: 8, F16: 2, I64: 8, I32: 4, U8: 1, BOOL: 1 };

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

const show = (value: unknown) => JSON.stringify(value) ?? String(value);
const isNonNegativeInteger = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * One header entry checked field by field, each failure naming the tensor: a header written by
 * hand or cut short must give a message, not a TypeError or bytes read past the tensor's own.
 */
function checkEntry(file: string, name: string, entry: unknown, dataBytes: number): { dtype: SafetensorsDtype; shape: number[]; begin: number; end: number } {
  const fail = (problem: string) => new SafetensorsError(file, `tensor "${name}": ${problem}`);
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw fail(`entry must be an object {dtype, shape, data_offsets}, got ${show(entry)}`);
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== 'string' || !Object.hasOwn(BYTES, dtype)) throw fail(`dtype ${show(dtype)} is not one of ${Object.keys(BYTES).join(', ')}`);
  if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger)) throw fail(`shape must be an array of non-negative integers, got ${show(shape)}`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInteger) || offsets[0] > offsets[1]) {
    throw fail(`data_offsets must be two non-negative integers [begin, end] with begin <= end, got ${show(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  const size = BYTES[dtype as SafetensorsDtype];
  const count = shape.reduce((a: number, b: number) => a * b, 1);
  if (end - begin !== count * size) {
    throw fail(`shape [${shape.join(',')}] of ${dtype} needs ${count * size} bytes (${count} x ${size}), but data_offsets [${begin}, ${end}) hold ${end - begin}`);
  }
  if (end > dataBytes) throw fail(`data_offsets [${begin}, ${end}) run past the ${dataBytes} bytes of data after the header`);
  return { dtype: dtype as SafetensorsDtype, shape, begin, end };
}

/** __metadata__ is optional; when present, a map of strings, as PyTorch's safetensors writes it. */
function readMetadata(file: string, value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.values(value).every((v) => typeof v === 'string')) {
    throw new SafetensorsError(file, `__metadata__ must map names to strings, got ${show(value)}`);
  }
  return value as Record<string, string>;
}

/** Parses a whole safetensors file's bytes; `file` (a path, or the name a file picker gives) is named in every error. */
export function parseSafetensors(bytes: Uint8Array, file: string): { tensors: Map<string, NamedArray>; metadata: Record<string, string> } {
  if (bytes.length < 8) throw new SafetensorsError(file, `only ${bytes.length} bytes`);
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > bytes.length - 8) throw new SafetensorsError(file, `header of ${headerLength} bytes is longer than the file`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch (err) {
    throw new SafetensorsError(file, `header is not JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new SafetensorsError(file, 'header is not a JSON object');
  const base = 8 + headerLength;
  const metadata = readMetadata(file, header.__metadata__);
  const tensors = new Map<string, NamedArray>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, begin, end } = checkEntry(file, name, entry, bytes.length - base);
    const raw = bytes.subarray(base + begin, base + end);
    const aligned = new Uint8Array(raw).buffer; // a copy, aligned for the typed array
    let data: NamedArray['data'];
    if (dtype === 'F32') data = new Float32Array(aligned);
    else if (dtype === 'F64') data = new Float64Array(aligned);
    else if (dtype === 'I64') data = new BigInt64Array(aligned);
    else if (dtype === 'I32') data = new Int32Array(aligned);
    else if (dtype === 'U8' || dtype === 'BOOL') data = new Uint8Array(aligned);
    else data = Float32Array.from(new Uint16Array(aligned), halfToFloat);
    tensors.set(name, { dtype, shape, data });
  }
  return { tensors, metadata };
}

/** The file's bytes, in pieces (length, header padded to a multiple of 8 bytes, each tensor's data). */
export function encodeSafetensors(tensors: Array<[string, NamedArray]>, metadata: Record<string, string> = {}): Uint8Array[] {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    const size = t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  const encoder = new TextEncoder();
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (encoder.encode(json).length % 8)) % 8);
  const headerBytes = encoder.encode(json);
  const length = new Uint8Array(8);
  new DataView(length.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  const pieces = tensors.map(([, t]) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return [length, headerBytes, ...pieces];
}
