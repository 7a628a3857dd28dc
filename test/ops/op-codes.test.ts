// The op codes arith.ts sends as the OP constant of shaders/unary.wgsl and shaders/binary.wgsl:
// each code has its own `case`, the shader has no case the table lacks, and any other code
// yields NaN rather than passing for another op.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { gpuRuntime, useBackend } from '../../engine/backend.ts';
import { tensor } from '../../engine/create.ts';
import { BINARY_OP_CODES, binaryLaunch, UNARY_OP_CODES, unaryLaunch } from '../../engine/ops/arith.ts';
import { scope } from '../../engine/scope.ts';
import { indexShaders } from '../../engine/platform/shader-files.ts';
import { gpuBuffer } from '../../engine/webgpu/storage.ts';
import { withGpu } from '../gpu.ts';

const shaders = indexShaders();

/** The selectors of the shader's `switch OP`, read from its text: case labels as numbers, and 'default'. */
function opSelectors(kernel: string): Array<number | 'default'> {
  const code = readFileSync(shaders.get(kernel)!, 'utf8').replace(/\/\/.*$/gm, '');
  const start = code.search(/switch\s+OP\s*\{/);
  if (start < 0) throw new Error(`${kernel}.wgsl has no switch OP`);
  const open = code.indexOf('{', start);
  let end = open;
  let depth = 0;
  do {
    if (code[end] === '{') depth++;
    if (code[end] === '}') depth--;
    end++;
  } while (depth > 0 && end < code.length);
  const body = code.slice(open + 1, end - 1);
  const selectors: Array<number | 'default'> = [];
  for (const [, list] of body.matchAll(/\bcase\s+([^:{]+?)\s*:?\s*\{/g)) {
    for (const s of list.split(',').map((x) => x.trim())) selectors.push(s === 'default' ? 'default' : Number(s.replace(/u$/, '')));
  }
  if (/\bdefault\s*:?\s*\{/.test(body)) selectors.push('default');
  return selectors;
}

for (const [kernel, codes] of [['unary', UNARY_OP_CODES], ['binary', BINARY_OP_CODES]] as const) {
  t.test(`${kernel}.wgsl has one case per op code of arith.ts, and a default`, async (t) => {
    const selectors = opSelectors(kernel);
    const labels = selectors.filter((s) => s !== 'default').sort((a, b) => a - b);
    const table = Object.values(codes).sort((a, b) => a - b);
    t.same(labels, table, `case labels ${labels} are the codes ${Object.entries(codes).map(([op, c]) => `${op}=${c}`).join(' ')}`);
    t.equal(selectors.filter((s) => s === 'default').length, 1, 'one default');
  });
}

t.test('an op code without a case yields NaN on the GPU', async (t) => {
  if (!(await withGpu(t))) return;
  await useBackend('webgpu');
  const rt = gpuRuntime();
  const unknown = (codes: Record<string, number>) => ({ OP: Math.max(...Object.values(codes)) + 1 });
  const [unary, binary] = await scope(async () => {
    const a = tensor([-1.5, 0, 2, 7], [4]);
    const b = tensor([3, -2, 0.5, 1], [4]);
    const unaryOut = tensor([0, 0, 0, 0], [4]);
    const binaryOut = tensor([0, 0, 0, 0], [4]);
    rt.dispatch({ ...unaryLaunch('affine', a.shape, { alpha: 1, beta: 0 }), constants: unknown(UNARY_OP_CODES) }, [gpuBuffer(a), gpuBuffer(unaryOut)]);
    rt.dispatch({ ...binaryLaunch('add', a.shape, b.shape, a.shape, 0), constants: unknown(BINARY_OP_CODES) }, [gpuBuffer(a), gpuBuffer(b), gpuBuffer(binaryOut)]);
    return [Array.from(await unaryOut.toArray()), Array.from(await binaryOut.toArray())];
  });
  t.ok(unary.every(Number.isNaN), `unary: [${unary}]`);
  t.ok(binary.every(Number.isNaN), `binary: [${binary}]`);
  await useBackend('cpu');
});
