import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WflwLoader, type Batch } from '../../data/loader.ts';
import { ensureSyntheticDataset } from '../../data/synthetic-dataset.ts';
import { readWflw256 } from '../../data/wflw256.ts';

const cache = mkdtempSync(join(tmpdir(), 'synth-cache-'));
t.teardown(() => rmSync(cache, { recursive: true, force: true }));
const prepared = ensureSyntheticDataset(cache, { train: 20, test: 6, size: 96, seed: 4 });
const trainFile = join(prepared, 'train.txt');

async function collect(loader: WflwLoader, epoch: number): Promise<Batch[]> {
  const batches: Batch[] = [];
  for await (const batch of loader.epoch(epoch)) batches.push(batch);
  await loader.close();
  return batches;
}

function sameBatches(a: Batch[], b: Batch[]): boolean {
  return a.length === b.length && a.every((x, i) => x.indices.join() === b[i].indices.join() && Buffer.from(x.images.buffer).equals(Buffer.from(b[i].images.buffer)) && Buffer.from(x.landmarks.buffer).equals(Buffer.from(b[i].landmarks.buffer)));
}

t.test('the synthetic set is generated once and prepared in the WFLW256 layout', async (t) => {
  t.equal(ensureSyntheticDataset(cache, { train: 20, test: 6, size: 96, seed: 4 }), prepared, 'the second call finds the cached set');
  t.equal(readWflw256(trainFile).length, 20);
  t.equal(readWflw256(join(prepared, 'test.txt')).length, 6);
});

t.test('batches: shapes, drop_last, and the same batches for any worker count', async (t) => {
  const options = { annotationFile: trainFile, batchSize: 8, train: true, seed: 11 };
  const inline = await collect(new WflwLoader({ ...options, workers: 0 }), 3);
  t.equal(inline.length, 2, '20 samples, batch 8, drop_last: two batches');
  t.equal(inline[0].images.length, 8 * 3 * 128 * 128);
  t.equal(inline[0].landmarks.length, 8 * 196);
  t.equal(inline[0].paths.length, 8);
  t.ok(inline[0].images.every((v) => v >= -127.5 / 128 && v <= 127.5 / 128), 'pixels normalised to [-0.996, 0.996]');
  t.ok(sameBatches(inline, await collect(new WflwLoader({ ...options, workers: 0 }), 3)), 'same seed, same batches');
  t.ok(sameBatches(inline, await collect(new WflwLoader({ ...options, workers: 1 }), 3)), 'one worker: same batches');
  t.ok(sameBatches(inline, await collect(new WflwLoader({ ...options, workers: 2, prefetch: 1 }), 3)), 'two workers: same batches');
  t.notOk(sameBatches(inline, await collect(new WflwLoader({ ...options, workers: 0 }), 4)), 'another epoch, other batches');
  t.notOk(sameBatches(inline, await collect(new WflwLoader({ ...options, workers: 0, seed: 12 }), 3)), 'another seed, other batches');
});

t.test('test mode: every sample once, in file order, the plain central crop', async (t) => {
  const loader = new WflwLoader({ annotationFile: join(prepared, 'test.txt'), batchSize: 4, train: false, workers: 2 });
  const batches = await collect(loader, 0);
  t.same(batches.map((b) => b.indices), [[0, 1, 2, 3], [4, 5]], 'the last partial batch is kept');
  const sample = loader.samples[5];
  const moved = Array.from(batches[1].landmarks.subarray(196, 2 * 196));
  t.ok(moved.every((v, k) => Math.abs(v - (sample.landmarksPx[k] - 64)) < 1e-4), 'landmarks are the crop landmarks less 64');
});

t.test('a corrupt image fails the epoch with an error naming the image and the annotation line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'loader-bad-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const lines = readWflw256(trainFile).slice(0, 3).map((s) => [...Array.from({ length: 98 }, (_, p) => s.landmarksPx[2 * p]), ...Array.from({ length: 98 }, (_, p) => s.landmarksPx[2 * p + 1]), s.imageFile].join(' '));
  writeFileSync(join(dir, 'broken.png'), 'not a png');
  lines[1] = lines[1].replace(/\S+$/, join(dir, 'broken.png'));
  writeFileSync(join(dir, 'list.txt'), lines.join('\n') + '\n');
  for (const workers of [0, 2]) {
    const loader = new WflwLoader({ annotationFile: join(dir, 'list.txt'), batchSize: 3, train: false, workers });
    await t.rejects(collect(loader, 0), new RegExp(`broken\\.png: corrupt or unsupported image.*list\\.txt:2`), `workers ${workers}`);
    await loader.close();
  }
});
