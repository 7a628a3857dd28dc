// What the .pth reader refuses, and how it says so: a pickle that asks for os.system or
// builtins.eval, an opcode outside the set, a bad memo index, nesting past the limit, sizes that
// claim gigabytes, a storage shorter than its tensor, a deflated entry, and every way of cutting
// a file short. Each is one PthError whose message starts with the file's name; a refusal says
// nothing was run. Byte flips anywhere in small files give a PthError or a result, never a
// TypeError or RangeError from reading past what the file holds.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { unpickle } from '../../nn/pth/pickle.ts';
import { PthError } from '../../nn/pth/pth-error.ts';
import { readPth } from '../../nn/pth/read-pth.ts';
import { STATE_DICT_GLOBALS } from '../../nn/pth/torch-globals.ts';
import { readWeightsFile } from '../../nn/weights-file.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/pth/', import.meta.url));
const REFUSED = 'refused, nothing in it was run';

/** The one-line PthError reading `file` gives. */
function errorOf(file: string): PthError {
  try {
    readWeightsFile(file);
  } catch (err) {
    if (err instanceof PthError) return err;
    throw err;
  }
  throw new Error(`${file} was read without complaint`);
}

const hostile: Array<[file: string, parts: string[]]> = [
  ['os-system.pth', [REFUSED, 'the global os.system', 'archive/data.pkl']],
  ['eval-legacy.pth', [REFUSED, 'the global builtins.eval', 'the object pickle']],
  ['unknown-opcode.pth', [REFUSED, 'an unknown opcode (0xff)']],
  ['bad-memo.pth', ['not a readable PyTorch checkpoint', 'memo index 5 was never stored']],
  ['deep-nesting.pth', ['not a readable PyTorch checkpoint', 'nested deeper than 100 levels']],
  ['short-storage.pth', ['tensor "w"', 'reach element 99 of storage 0, which holds 4: the storage is shorter than its tensor']],
  ['huge-tensor.pth', ['more than 268435456 elements']],
  ['huge-storage-legacy.pth', ['storage 1 claims 8589934592 float32 elements (34359738368 bytes)', 'truncated']],
  ['deflated.pth', ['zip entry dtypes/data/0 is compressed (deflate)', 'zip -0']],
  ['truncated.pth', ['no zip end-of-central-directory record', 'truncated']],
  ['truncated-legacy.pth', ['truncated']],
];

for (const [name, parts] of hostile) {
  t.test(`hostile/${name}`, async (t) => {
    const file = FIXTURES + 'hostile/' + name;
    const { message } = errorOf(file);
    t.ok(message.startsWith(`${file}: `), `names the file: ${message}`);
    t.notOk(message.includes('\n'), 'one line');
    for (const part of parts) t.ok(message.includes(part), `says "${part}"`);
    if (!parts.includes(REFUSED)) t.notOk(message.includes(REFUSED), 'a damaged file is not called a refusal');
  });
}

t.test('a file cut anywhere is refused as truncated, naming it', async (t) => {
  for (const name of ['dtypes.pth', 'dtypes-legacy.pth', 'sepbn-w64-legacy.pth']) {
    const bytes = readFileSync(FIXTURES + name);
    const step = Math.max(1, Math.floor(bytes.length / 400));
    const wrong: string[] = [];
    for (let length = 0; length < bytes.length; length += step) {
      try {
        readPth(name, bytes.subarray(0, length));
        wrong.push(`${length}: read without complaint`);
      } catch (err) {
        if (!(err instanceof PthError) || !err.message.startsWith(`${name}: `) || !/truncated/.test(err.message)) wrong.push(`${length}: ${String(err)}`);
      }
    }
    t.same(wrong.slice(0, 5), [], `${name}: every cut every ${step} bytes says truncated`);
  }
});

t.test('a byte changed anywhere gives a PthError or a result, never a crash', async (t) => {
  for (const name of ['dtypes.pth', 'dtypes-legacy.pth']) {
    const bytes = readFileSync(FIXTURES + name);
    const crashes: string[] = [];
    for (let at = 0; at < bytes.length; at++) {
      const changed = Uint8Array.from(bytes);
      changed[at] ^= 0xff;
      try {
        readPth(name, changed);
      } catch (err) {
        if (!(err instanceof PthError)) crashes.push(`byte ${at}: ${String(err)}`);
      }
    }
    t.same(crashes.slice(0, 5), [], `${name}: all ${bytes.length} single-byte changes`);
  }
});

/** One protocol-2 pickle from opcode text (latin1), read with the state-dict allow-list and no storages. */
function read(text: string): unknown {
  return unpickle(Uint8Array.from(Buffer.from(`\x80\x02${text}`, 'latin1')), 0, { file: 'x.pth', where: 'data.pkl', globals: STATE_DICT_GLOBALS }).value;
}

t.test('the unpickler, opcode by opcode', async (t) => {
  t.same(read('}q\x00(X\x01\x00\x00\x00aK\x07X\x01\x00\x00\x00b]q\x01(\x88\x89Ne\x85u.'), new Map<unknown, unknown>([['a', 7], ['b', Object.freeze([[true, false, null]])]]), 'dict, list, tuple, bools, None');
  t.equal(read('G?\xf8\x00\x00\x00\x00\x00\x00.'), 1.5, 'BINFLOAT is big-endian');
  t.equal(read('J\xff\xff\xff\xff.'), -1, 'BININT is signed');
  t.equal(read('\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01.'), 2n ** 64n, 'LONG1 past 2^53 is a bigint');
  t.same(read('ccollections\nOrderedDict\n)R}X\x09\x00\x00\x00_metadata}sb.'), new Map(), 'OrderedDict() with its _metadata set by BUILD');
  t.throws(() => read('\x8c\x02os\x8c\x06system\x93.'), { message: /refused, nothing in it was run: .*the global os\.system/ }, 'STACK_GLOBAL is held to the same list');
  t.throws(() => read('(cos\nsystem\ni.'), { message: /refused, nothing in it was run: .*the global os\.system/ }, 'the global is refused before INST could use it');
  t.throws(() => read('(X\x01\x00\x00\x00ai.'), { message: /opcode INST \(0x69\)/ }, 'INST is not in the set');
  t.throws(() => read('ctorch\nFloatStorage\n)R.'), { message: /REDUCE calls torch\.FloatStorage, which is not a function/ });
  t.throws(() => read('ccollections\nOrderedDict\nK\x01\x85R.'), { message: /collections\.OrderedDict: given 1 arguments/ });
  t.throws(() => read(']K\x01b.'), { message: /BUILD sets the state of a list/ });
  t.throws(() => read(')]a.'), { message: /APPEND on a tuple of 0, not a list/ }, 'a tuple cannot be appended to');
  t.throws(() => read('}]]s.'), { message: /a dict key is a list/ });
  t.throws(() => read('K\x01K\x02.'), { message: /STOP with 2 values on the stack/ });
  t.throws(() => read('('.repeat(101) + '.'), { message: /nested deeper than 100 levels/ });
  t.throws(() => read('Q.'), { message: /an opcode pops from an empty stack/ });
  t.throws(() => read('K\x01Q.'), { message: /a storage reference where none may be/ });
  t.throws(() => unpickle(Uint8Array.of(0x80, 0x01, 0x4e, 0x2e), 0, { file: 'x.pth', where: 'data.pkl', globals: STATE_DICT_GLOBALS }), { message: /pickle protocol 1/ });
});
