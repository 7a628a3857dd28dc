// Training curves: the log's NME in percent as the log now names it (older logs' fractions read
// too, an infinite NME's null read as infinite), and a temperature chart only for SepBN networks.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTrainingLog, renderTrainingCurves } from '../../../data/figures/training-curves.ts';

const dir = mkdtempSync(join(tmpdir(), 'training-curves-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const line = { epoch: 1, lr: 1e-3, temperature: 30, train_loss: 40, test_nme_percent: 5.5, seconds: 1, images_per_second: 10 };

t.test('the log is read in percent, whatever the log\'s age', async (t) => {
  const file = join(dir, 'log.jsonl');
  const older = { epoch: 2, lr: 5e-4, temperature: 29, train_loss: 30, test_nme: 0.045, seconds: 1 };
  writeFileSync(file, [line, older, { ...line, epoch: 3, test_nme_percent: null }].map((l) => JSON.stringify(l) + '\n').join(''));
  t.same(readTrainingLog(file).map((r) => r.test_nme_percent), [5.5, 4.5, Infinity], 'percent, a fraction times 100, null as infinite');
  writeFileSync(file, JSON.stringify({ epoch: 1, lr: 1e-3, temperature: 30, train_loss: 40 }) + '\n');
  t.throws(() => readTrainingLog(file), { message: `${file}:1: no numeric test_nme_percent` });
});

t.test('a temperature chart for SepBN only', async (t) => {
  const log = [line, { ...line, epoch: 2, temperature: 29, test_nme_percent: 4 }];
  const sepbn = renderTrainingCurves(log, 'sepbn', true);
  const baseline = renderTrainingCurves(log, 'baseline', false);
  t.same([sepbn.width, sepbn.height > baseline.height], [2 * 640, true], 'four charts in two rows');
  t.equal(baseline.width, 3 * 640, 'three charts in one row: loss, NME, learning rate');
});
