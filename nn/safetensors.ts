// The safetensors file format, so checkpoints move to and from PyTorch with one call on either
// side (safetensors.torch.load_file / save_file): an 8-byte little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}},
// then the raw little-endian tensor bytes.
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from './write-file-atomic.ts';

export type SafetensorsDtype = 'F32' | 'F64' | 'F16' | 'I64' | 'I32';

export interface NamedArray {
  dtype: SafetensorsDtype;
  shape: number[];
  /** F32, F64 and F16 read as Float32Array/Float64Array; I64 as BigInt64Array; I32 as Int32Array. */
  data: Float32Array | Float64Array | BigInt64Array | Int32Array;
}

export class SafetensorsError extends Error {
  constructor(file: string, problem: string) {
    super(`${file}: not a readable safetensors file: ${problem}`);
    this.name = 'SafetensorsError';
  }
}

const BYTES: Record<SafetensorsDtype, number> = { F32: 4, F64: 8, F16: 2, I64: 8, I32: 4 };

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

export function readSafetensors(file: string): { tensors: Map<string, NamedArray>; metadata: Record<string, string> } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new SafetensorsError(file, (err as Error).message);
  }
  if (bytes.length < 8) throw new SafetensorsError(file, `only ${bytes.length} bytes`);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  if (headerLength > bytes.length - 8) throw new SafetensorsError(file, `header of ${headerLength} bytes is longer than the file`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
  } catch (err) {
    throw new SafetensorsError(file, `header is not JSON (${(err as Error).message})`);
  }
  const base = 8 + headerLength;
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const tensors = new Map<string, NamedArray>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: offsets } = entry as { dtype: SafetensorsDtype; shape: number[]; data_offsets: [number, number] };
    if (!(dtype in BYTES)) throw new SafetensorsError(file, `tensor ${name} has dtype ${dtype}; supported: ${Object.keys(BYTES).join(', ')}`);
    const count = shape.reduce((a, b) => a * b, 1);
    const [begin, end] = offsets;
    if (end - begin !== count * BYTES[dtype] || base + end > bytes.length || begin < 0) {
      throw new SafetensorsError(file, `tensor ${name} [${shape}] ${dtype}: byte range [${begin}, ${end}) does not fit its shape or the file`);
    }
    const raw = bytes.subarray(base + begin, base + end);
    const aligned = new Uint8Array(raw).buffer; // a copy, aligned for the typed array
    let data: NamedArray['data'];
    if (dtype === 'F32') data = new Float32Array(aligned);
    else if (dtype === 'F64') data = new Float64Array(aligned);
    else if (dtype === 'I64') data = new BigInt64Array(aligned);
    else if (dtype === 'I32') data = new Int32Array(aligned);
    else data = Float32Array.from(new Uint16Array(aligned), halfToFloat);
    tensors.set(name, { dtype, shape, data });
  }
  return { tensors, metadata };
}

/** Writes the file atomically (write-file-atomic.ts), so a crash never leaves half a file. */
export function writeSafetensors(file: string, tensors: Array<[string, NamedArray]>, metadata: Record<string, string> = {}): void {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    const size = t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(headerBytes.length));
  const pieces = tensors.map(([, t]) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  writeFileAtomic(file, [length, headerBytes, ...pieces]);
}
