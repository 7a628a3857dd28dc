// With no Vulkan driver visible, GPU commands exit non-zero with the install paragraph, no trace.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

for (const args of [['cli/device.js'], ['cli/gradcheck.js', '--op', 'abs'], ['cli/bench.js', 'matmul', '--quick']]) {
  t.test(`node ${args.join(' ')} without a driver`, async (t) => {
    const run = spawnSync(process.execPath, args, { cwd: root, env: { ...process.env, VK_DRIVER_FILES: '/nonexistent' }, encoding: 'utf8' });
    t.equal(run.status, 1, 'exit status 1');
    t.match(run.stderr, /No WebGPU adapter was found/);
    t.match(run.stderr, /mesa-vulkan-drivers/);
    t.match(run.stderr, /--backend cpu/);
    t.notMatch(run.stderr, /\n\s+at /, 'no stack trace');
  });
}

t.test('--help works without a GPU', async (t) => {
  const run = spawnSync(process.execPath, ['cli/gradcheck.js', '--help'], { cwd: root, env: { ...process.env, VK_DRIVER_FILES: '/nonexistent' }, encoding: 'utf8' });
  t.equal(run.status, 0);
  t.match(run.stdout, /usage: node cli\/gradcheck\.js/);
});
