// Commands that take --weights read a PyTorch .pth as readily as safetensors, told apart by content:
// cli/test.js scores PyTorch's zip and legacy files and the same weights as safetensors
// identically, inferring the network and width it says it inferred; cli/predict.js draws with a
// legacy .pth. CPU backend, width 1/64, four test faces: seconds.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureSyntheticDataset } from '../../data/synthetic-dataset.ts';
import { runCommand } from './run-command.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/pth/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sepbn-pth-weights-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const data = ensureSyntheticDataset(dir, { train: 8, test: 4, size: 96, seed: 4 });

function score(weights: string, flags: string[] = []): { scores: unknown; stderr: string } {
  const run = runCommand(['cli/test.js', '--weights', weights, '--data', data, '--json', '--backend', 'cpu', ...flags]);
  if (run.status !== 0) throw new Error(run.stderr);
  return { scores: JSON.parse(run.stdout), stderr: run.stderr };
}

t.test('cli/test.js --weights X.pth: zip, legacy and safetensors of the same weights score the same', async (t) => {
  const zip = score(FIXTURES + 'sepbn-w64.pth');
  t.match(zip.stderr, /sepbn-w64\.pth: PyTorch \.pth \(zip archive\), 118 tensors; inferred sepbn from its bnN\.bn\.K\.\* names \(K = 3\), width 1\/64 from conv1\.weight \[1,3,3,3\]/);
  const legacy = score(FIXTURES + 'sepbn-w64-legacy.pth');
  t.match(legacy.stderr, /PyTorch \.pth \(legacy stream\), 118 tensors; stripped the "module\." prefix/);
  const safetensors = score(FIXTURES + 'sepbn-w64.safetensors');
  t.same(legacy.scores, zip.scores, 'the legacy file scores as the zip one');
  t.same(safetensors.scores, zip.scores, 'and as the same weights saved as safetensors');
  t.equal((zip.scores as Array<{ count: number }>)[0].count, 4, 'all four test faces scored');
});

t.test('cli/test.js --model and --width on a wrapped .pth', async (t) => {
  const { scores, stderr } = score(FIXTURES + 'baseline-w64.pth', ['--model', 'baseline', '--width', '64']);
  t.match(stderr, /took the state dict from its "state_dict" entry; stripped the "module\." prefix/);
  t.notMatch(stderr, /inferred/, 'nothing inferred when both are given');
  t.equal((scores as Array<{ name: string }>)[0].name, 'test');
});

t.test('cli/predict.js --weights X.pth draws the landmarks', async (t) => {
  const image = readFileSync(join(data, 'test.txt'), 'utf8').split('\n')[0].trim().split(/\s+/).at(-1)!;
  const run = runCommand(['cli/predict.js', '--weights', FIXTURES + 'baseline-w64-legacy.pth', join(data, image), '--out', dir, '--json', '--backend', 'cpu']);
  t.equal(run.status, 0, run.stderr);
  t.match(run.stderr, /PyTorch \.pth \(legacy stream\), 16 tensors; took the state dict from its "model" entry; inferred baseline/);
  t.equal(JSON.parse(run.stdout)[0].landmarks.length, 98);
});
