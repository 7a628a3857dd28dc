// A safetensors header is checked field by field before any bytes are read, and every refusal
// names the file and the tensor: no TypeError from a missing field, no bytes read past the file.
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, SafetensorsError, writeSafetensors } from '../../nn/safetensors.ts';

const dir = mkdtempSync(join(tmpdir(), 'sepbn-safetensors-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
/** A file with this header (JSON as given) followed by `dataBytes` zero bytes. */
function fileWith(header: unknown, dataBytes = 8): string {
  const file = join(dir, `case${fileCount++}.safetensors`);
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(file, Buffer.concat([length, json, Buffer.alloc(dataBytes)]));
  return file;
}

function refuses(t: Test, header: unknown, message: RegExp, dataBytes?: number): void {
  const file = fileWith(header, dataBytes);
  t.throws(() => readSafetensors(file), SafetensorsError);
  try {
    readSafetensors(file);
  } catch (err) {
    t.ok((err as Error).message.startsWith(`${file}: `), 'the message starts with the file');
    t.match((err as Error).message, message);
  }
}

const good = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };

t.test('a well-formed file still reads', async (t) => {
  const file = join(dir, 'good.safetensors');
  writeSafetensors(file, [['w', { dtype: 'F32', shape: [2], data: Float32Array.of(1.5, -2) }], ['n', { dtype: 'I64', shape: [], data: BigInt64Array.of(7n) }]], { epoch: '3' });
  const { tensors, metadata } = readSafetensors(file);
  t.same(Array.from(tensors.get('w')!.data as Float32Array), [1.5, -2]);
  t.same(tensors.get('n')!.shape, []);
  t.same(metadata, { epoch: '3' });
  t.same(readSafetensors(fileWith({ w: { ...good, shape: [0, 3], data_offsets: [8, 8] } })).tensors.get('w')!.shape, [0, 3], 'an empty tensor');
});

t.test('each field of an entry is checked, naming the tensor', async (t) => {
  refuses(t, { 'conv1.weight': { dtype: 'F32', data_offsets: [0, 8] } }, /tensor "conv1\.weight": shape must be an array of non-negative integers, got undefined/);
  refuses(t, { w: { ...good, shape: [-2] } }, /tensor "w": shape must be an array of non-negative integers, got \[-2\]/);
  refuses(t, { w: { ...good, shape: [1.5] } }, /tensor "w": shape must be/);
  refuses(t, { w: { ...good, shape: ['2'] } }, /tensor "w": shape must be/);
  refuses(t, { w: { ...good, shape: 2 } }, /tensor "w": shape must be/);
  refuses(t, { w: { ...good, dtype: 'BF16' } }, /tensor "w": dtype "BF16" is not one of F32, F64, F16, I64, I32/);
  refuses(t, { w: { ...good, dtype: undefined } }, /tensor "w": dtype undefined is not one of/);
  refuses(t, { w: { ...good, dtype: 'toString' } }, /tensor "w": dtype "toString" is not one of/);
  refuses(t, { w: { dtype: 'F32', shape: [2] } }, /tensor "w": data_offsets must be two non-negative integers/);
  refuses(t, { w: { ...good, data_offsets: [8, 0] } }, /tensor "w": data_offsets .* begin <= end, got \[8,0\]/);
  refuses(t, { w: { ...good, data_offsets: [0] } }, /tensor "w": data_offsets must be two/);
  refuses(t, { w: { ...good, data_offsets: [0, 8.5] } }, /tensor "w": data_offsets must be two/);
  refuses(t, { w: { ...good, data_offsets: [-4, 4] } }, /tensor "w": data_offsets must be two/);
  refuses(t, { w: 5 }, /tensor "w": entry must be an object/);
});

t.test('the byte length must be the element count times the dtype size, within the file', async (t) => {
  refuses(t, { w: { ...good, dtype: 'F64' } }, /tensor "w": shape \[2\] of F64 needs 16 bytes \(2 x 8\), but data_offsets \[0, 8\) hold 8/);
  refuses(t, { w: { ...good, shape: [3] } }, /tensor "w": shape \[3\] of F32 needs 12 bytes/);
  refuses(t, { w: { ...good, shape: [4], data_offsets: [0, 16] } }, /tensor "w": data_offsets \[0, 16\) run past the 8 bytes of data after the header/);
});

t.test('the header and its metadata must have the documented form', async (t) => {
  refuses(t, null, /header is not a JSON object/);
  refuses(t, [good], /header is not a JSON object/);
  refuses(t, { __metadata__: { epoch: 3 }, w: good }, /__metadata__ must map names to strings, got \{"epoch":3\}/);
});
