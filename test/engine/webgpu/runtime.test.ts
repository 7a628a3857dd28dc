import t from 'tap';
import { gpuRuntime, useBackend } from '../../../engine/backend.ts';
import { tensor } from '../../../engine/create.ts';
import { add, scale } from '../../../engine/ops/arith.ts';
import { scope } from '../../../engine/scope.ts';
import { sizeClass } from '../../../engine/webgpu/buffer-pool.ts';
import { defineUniformStruct } from '../../../engine/webgpu/launch.ts';
import { withGpu } from '../../gpu.ts';

t.test('size classes round up and stay within a quarter of the request', async (t) => {
  t.equal(sizeClass(1), 256);
  t.equal(sizeClass(65536), 65536);
  for (const bytes of [70000, 1e6, 33554432, 123456789]) {
    const c = sizeClass(bytes);
    t.ok(c >= bytes && c <= bytes * 1.25, `${bytes} -> ${c}`);
  }
});

t.test('uniform packing follows WGSL alignment and refuses a float where an integer belongs', async (t) => {
  const TestParams = defineUniformStruct('RuntimeTestParams', [['count', 'u32'], ['scale', 'f32'], ['shape', 'array<vec4<u32>, 2>']]);
  const bytes = TestParams.pack({ count: 3, scale: 0.25, shape: [5, 7] });
  t.equal(bytes.byteLength, 48);
  t.equal(new Uint32Array(bytes)[0], 3);
  t.equal(new Float32Array(bytes)[1], 0.25);
  t.same(Array.from(new Uint32Array(bytes, 16)), [5, 7, 0, 0, 0, 0, 0, 0], 'the array starts at the next 16 bytes, unused axes 0');
  t.throws(() => TestParams.pack({ count: 1.5, scale: 0, shape: [] }), /RuntimeTestParams\.count is 1\.5/);
  t.throws(() => TestParams.pack({ count: 1, scale: 0, shape: new Array(9).fill(1) }), /holds 8 values, got 9/);
});

t.test('WebGPU runtime', async (t) => {
  if (!(await withGpu(t))) return;
  await useBackend('webgpu');
  const rt = gpuRuntime();

  await t.test('one flush submits many dispatches; pooled buffers are reused after a scope', async (t) => {
    const before = rt.dispatchCount;
    const x = tensor([1, 2, 3], [3]).keep();
    const first = await scope(async () => {
      let y = x;
      for (let i = 0; i < 50; i++) y = add(y, x);
      return Array.from(await y.toArray());
    });
    t.same(first, [51, 102, 153]);
    t.equal(rt.dispatchCount - before, 50);
    const allocated = rt.pool.bytesAllocated;
    await scope(async () => {
      let y = x;
      for (let i = 0; i < 50; i++) y = add(y, x);
      await y.toArray();
    });
    t.equal(rt.pool.bytesAllocated, allocated, 'the second run allocates nothing new');
  });

  await t.test('data uploaded after a buffer is recycled does not overwrite pending work', async (t) => {
    const values = await scope(async () => {
      const a = tensor([1, 1], [2]);
      const b = scale(a, 2);
      a.dispose(); // its buffer returns to the pool before the scale has run
      const c = tensor([7, 7], [2]); // may take the same buffer
      return [Array.from(await b.toArray()), Array.from(await c.toArray())];
    });
    t.same(values, [[2, 2], [7, 7]]);
  });

  await t.test('a kernel that fails to compile is named with its shapes', async (t) => {
    rt.pipelines['sources'].set('broken_for_test', '@compute @workgroup_size(1) fn main() { let x: u32 = 1.5; }');
    rt.dispatch(
      { kernel: 'broken_for_test', access: [], uniforms: new ArrayBuffer(16), workgroups: [1, 1, 1], describe: 'x[3,4]' },
      [],
    );
    await t.rejects(rt.submit(), /kernel broken_for_test \(x\[3,4\]\)/);
  });

  await t.test('shape errors name the op and the inputs', async (t) => {
    t.throws(() => add(tensor([1, 2], [2]), tensor([1, 2, 3], [3])), /add: shapes \[2\] and \[3\] do not broadcast/);
  });
  await useBackend('cpu');
});
