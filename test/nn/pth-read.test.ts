// The .pth reader against PyTorch's own files (test/fixtures/make-pth.py): every tensor of both
// networks, in both of torch.save's formats, with nn.DataParallel's "module." names and a training
// script's {"state_dict": ...} / {"model": ...} wrappers, equal bit for bit to the same weights
// PyTorch converted to float32 and saved as safetensors; and every element type, layout and
// container variant (zip64, big-endian) the reader accepts, against its own reference.
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readPth } from '../../nn/pth/read-pth.ts';
import { readSafetensors, type NamedArray } from '../../nn/safetensors.ts';
import { readWeightsFile, weightsFormat } from '../../nn/weights-file.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/pth/', import.meta.url));

const bytesOf = (a: NamedArray) => Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength);

/** Every tensor of `got` equals the reference's of the same name: dtype, shape and every byte. */
function sameBits(t: Test, got: Map<string, NamedArray>, reference: Map<string, NamedArray>): void {
  t.same([...got.keys()].sort(), [...reference.keys()].sort(), 'the same names');
  const differing = [...reference].filter(([name, want]) => {
    const have = got.get(name);
    return !have || have.dtype !== want.dtype || have.shape.join() !== want.shape.join() || !bytesOf(have).equals(bytesOf(want));
  });
  t.same(differing.map(([name]) => name), [], `all ${reference.size} tensors equal PyTorch's bit for bit`);
}

const sepbnReference = readSafetensors(FIXTURES + 'sepbn-w64.safetensors').tensors;
// The baseline fixtures are the SepBN network without its SepBN layers.
const baselineReference = new Map([...sepbnReference].filter(([name]) => !name.startsWith('bn')));

const networks: Array<{ file: string; format: string; reference: Map<string, NamedArray>; notes: RegExp[] }> = [
  { file: 'sepbn-w64.pth', format: 'pth-zip', reference: sepbnReference, notes: [] },
  { file: 'sepbn-w64-legacy.pth', format: 'pth-legacy', reference: sepbnReference, notes: [/stripped the "module\." prefix/] },
  { file: 'baseline-w64.pth', format: 'pth-zip', reference: baselineReference, notes: [/"state_dict" entry/, /stripped the "module\." prefix/] },
  { file: 'baseline-w64-legacy.pth', format: 'pth-legacy', reference: baselineReference, notes: [/"model" entry/] },
];

for (const { file, format, reference, notes } of networks) {
  t.test(`${file}: every tensor as PyTorch wrote it`, async (t) => {
    const read = readWeightsFile(FIXTURES + file);
    t.equal(read.format, format, 'recognised by its content');
    sameBits(t, read.tensors, reference);
    t.equal(read.notes.length, notes.length, `notes: ${read.notes.join('; ')}`);
    notes.forEach((note, i) => t.match(read.notes[i], note));
    t.same(read.metadata, {}, 'a .pth has no metadata');
  });
}

t.test('the SepBN files hold every storage variant, each read to the same float32 values', async (t) => {
  for (const file of ['sepbn-w64.pth', 'sepbn-w64-legacy.pth']) {
    const { fileDtypes, tensors } = readWeightsFile(FIXTURES + file);
    t.equal(fileDtypes.get('conv1.weight'), 'float64', `${file}: conv1.weight stored as float64 (rounded to float32 as tensor.float() rounds)`);
    t.equal(fileDtypes.get('conv2.weight'), 'float16', `${file}: conv2.weight as float16`);
    t.equal(fileDtypes.get('conv3.weight'), 'bfloat16', `${file}: conv3.weight as bfloat16`);
    t.equal(fileDtypes.get('bn1.bn.0.num_batches_tracked'), 'int64');
    t.equal(tensors.get('bn1.bn.0.num_batches_tracked')!.dtype, 'I64', 'num_batches_tracked stays an integer');
    t.equal((tensors.get('bn1.bn.0.num_batches_tracked')!.data as BigInt64Array)[0], 1234n);
    t.equal(tensors.get('conv1.weight')!.dtype, 'F32', 'every floating tensor becomes float32');
  }
});

const dtypesReference = readSafetensors(FIXTURES + 'dtypes.safetensors').tensors;
for (const file of ['dtypes.pth', 'dtypes-legacy.pth', 'dtypes-big-endian.pth', 'dtypes-zip64.pth']) {
  t.test(`${file}: every element type and layout`, async (t) => {
    const read = readWeightsFile(FIXTURES + file);
    sameBits(t, read.tensors, dtypesReference);
    t.same(
      Object.fromEntries(['float64', 'float16', 'bfloat16', 'int32', 'uint8', 'bool'].map((name) => [name, read.tensors.get(name)!.dtype])),
      { float64: 'F32', float16: 'F32', bfloat16: 'F32', int32: 'I32', uint8: 'U8', bool: 'BOOL' },
      'floats as F32, integers keep their type',
    );
    t.same(read.tensors.get('scalar')!.shape, [], 'a 0-d tensor');
    t.same(read.tensors.get('empty')!.shape, [0, 4], 'an empty tensor');
  });
}

t.test('float16 widens exactly: subnormals, the largest half, -0 and infinity', async (t) => {
  const half = readWeightsFile(FIXTURES + 'dtypes.pth').tensors.get('float16')!.data as Float32Array;
  t.same(Array.from(half.slice(0, 3)), [1, -2.5, 65504]);
  t.equal(half[4], 2 ** -24, 'the smallest subnormal half');
  t.ok(Object.is(half[5], -0), '-0 keeps its sign');
  t.equal(half[6], Infinity);
});

t.test('the content decides the format, not the name', async (t) => {
  const bytes = (text: string) => Uint8Array.from(Buffer.from(text, 'latin1'));
  t.equal(weightsFormat(readFileSync(FIXTURES + 'dtypes.pth')), 'pth-zip');
  t.equal(weightsFormat(readFileSync(FIXTURES + 'dtypes-legacy.pth')), 'pth-legacy');
  t.equal(weightsFormat(readFileSync(FIXTURES + 'dtypes.safetensors')), 'safetensors');
  // A safetensors header of 640 bytes starts with 0x80 0x02, as a pickle does: its "{" at byte 8 decides.
  t.equal(weightsFormat(bytes('\x80\x02\0\0\0\0\0\0{"a":1}')), 'safetensors');
  t.equal(weightsFormat(bytes('\x80\x02\x8a\x0alegacy')), 'pth-legacy');
  t.equal(weightsFormat(bytes('not a checkpoint')), 'safetensors', 'anything else goes to the safetensors reader, which says what is wrong');
});

t.test('readPth reads bytes, so the same code serves a file picker', async (t) => {
  const read = readPth('dropped.pth', readFileSync(FIXTURES + 'dtypes.pth'));
  t.equal(read.format, 'zip');
  sameBits(t, read.tensors, dtypesReference);
});
