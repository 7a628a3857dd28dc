// `node cli/train.js` at a learning rate that makes SGD diverge exits non-zero with the message saying
// where and what to try, no stack trace and no "done"; on WebGPU and on the CPU reference.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpuSkipped } from '../gpu.ts';
import { runCommand } from './run-command.ts';

const dir = mkdtempSync(join(tmpdir(), 'sepbn-divergence-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const data = join(dir, 'faces256');

const node = runCommand;

t.before(() => {
  const synth = node(['cli/synth.js', '--out', join(dir, 'raw'), '--count', '24', '--seed', '4']);
  if (synth.status !== 0) throw new Error(synth.stderr);
  const prepared = node(['cli/prepare.js', '--wflw', join(dir, 'raw'), '--out', data]);
  if (prepared.status !== 0) throw new Error(prepared.stderr);
});

for (const backend of ['webgpu', 'cpu']) {
  t.test(`${backend}: sgd at lr 1e6 stops with the divergence message`, async (t) => {
    if (backend === 'webgpu' && gpuSkipped(t)) return;
    const out = join(dir, backend);
    const r = node(['cli/train.js', '--data', data, '--optimizer', 'sgd', '--lr', '1e6', '--width', '64', '--batch', '4', '--max-batches', '2', '--epochs', '2', '--workers', '1', '--backend', backend, '--out', out]);
    t.equal(r.status, 1, 'a non-zero exit');
    t.match(r.stderr, /training diverged in epoch \d+, step \d+, at learning rate \S+: .*lower --lr.*SEPBN_CHECK_NAN=1/);
    t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
    t.notMatch(r.stdout, /done/);
  });
}
