// prepare writes every list even when one has no faces, and warns about each empty one by name:
// training or scoring an empty list would otherwise fail far from the cause.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareWflw } from '../../data/prepare.ts';
import { writeSyntheticWflw } from '../../data/synthetic-dataset.ts';
import { wflwAnnotationFile } from '../../data/wflw-annotations.ts';

const dir = mkdtempSync(join(tmpdir(), 'sepbn-prepare-warnings-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('each list with 0 faces is warned about, naming its file', async (t) => {
  const raw = join(dir, 'raw');
  writeSyntheticWflw(raw, { count: 4, seed: 3, size: 96 });
  writeFileSync(wflwAnnotationFile(raw, 'train'), '');
  const warned: string[] = [];
  const out = join(dir, 'out');
  const report = prepareWflw({ wflwRoot: raw, outDir: out, interpolation: 'nearest', onWarning: (w) => warned.push(w) });
  t.same(report.warnings, warned, 'every warning is also in the report');
  const empty = Object.entries(report.faces).filter(([, count]) => count === 0).map(([set]) => set);
  t.ok(empty.includes('train'));
  t.ok(report.faces.test > 0);
  t.same(warned.map((w) => w.split(':')[0]).sort(), empty.map((set) => join(out, `${set}.txt`)).sort(), 'exactly the empty lists');
  t.match(warned, [`${join(out, 'train.txt')}: 0 faces`]);
  const subset = warned.find((w) => w.includes('test_'));
  if (subset) t.match(subset, /: 0 faces \(no test face has the \w+ flag\)$/);
});
