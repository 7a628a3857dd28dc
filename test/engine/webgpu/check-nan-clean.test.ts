// SEPBN_CHECK_NAN=1 raises no false alarm: a short SepBN training run on WebGPU with clean weights
// (forward, backward, Adam steps, the test score) runs every op under the check and ends normally,
// with no report, and with the same log as the run without the switch, which only reads back.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureSyntheticDataset } from '../../../data/synthetic-dataset.ts';
import { gpuSkipped } from '../../gpu.ts';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sepbn-nan-clean-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('a clean training run under the switch', async (t) => {
  if (gpuSkipped(t)) return;
  const data = ensureSyntheticDataset(dir, { train: 8, test: 4, size: 96, seed: 4 });
  // One epoch of two steps: the second runs on weights Adam has already moved.
  const train = (out: string, env: NodeJS.ProcessEnv) => {
    const args = ['cli/train.js', '--data', data, '--width', '64', '--batch', '2', '--epochs', '1', '--max-batches', '2', '--workers', '1', '--out', out];
    return spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', env });
  };
  const { SEPBN_CHECK_NAN: _inherited, ...withoutSwitch } = process.env;
  const checked = train(join(dir, 'checked'), { ...withoutSwitch, SEPBN_CHECK_NAN: '1' });
  t.equal(checked.status, 0, checked.stderr);
  t.notMatch(checked.stderr, /SEPBN_CHECK_NAN/, 'no report');
  const plain = train(join(dir, 'plain'), withoutSwitch);
  t.equal(plain.status, 0, plain.stderr);
  const logOf = (name: string) => JSON.parse(readFileSync(join(dir, name, 'log.jsonl'), 'utf8'));
  const [withCheck, without] = [logOf('checked'), logOf('plain')];
  t.ok(Number.isFinite(withCheck.train_loss) && Number.isFinite(withCheck.test_nme_percent), `finite: loss ${withCheck.train_loss}, test NME ${withCheck.test_nme_percent}`);
  t.equal(withCheck.train_loss, without.train_loss, 'the same train loss as without the switch');
  t.equal(withCheck.test_nme_percent, without.test_nme_percent, 'the same test NME as without the switch');
});
