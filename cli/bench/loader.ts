// node cli/bench.js loader: images/s of augmented 128x128 training batches from the worker-thread loader.
import { cacheDir } from '../dataset.ts';
import { join } from 'node:path';
import { numberOption } from '../args.ts';
import { WflwLoader } from '../../data/loader.ts';
import { ensureSyntheticDataset } from '../../data/synthetic-dataset.ts';
import { formatTable, type Benchmark } from './benchmark.ts';

export const benchmark: Benchmark = {
  name: 'loader',
  summary: 'images/s of augmented 128x128 training batches (decode, one affine, normalise) from the worker-thread loader',
  options: {
    data: { type: 'string', value: 'FILE', help: 'WFLW256 annotation file (default: the cached synthetic train set, made on first use)' },
    workers: { type: 'string', value: 'N', default: '2', help: 'loader worker threads (0: on the main thread)' },
    batch: { type: 'string', value: 'N', default: '64', help: 'batch size' },
    batches: { type: 'string', value: 'N', default: '20', help: 'batches timed, after one untimed warm-up batch' },
    json: { type: 'boolean', help: 'print JSON' },
  },
  async run(values) {
    const annotationFile =
      typeof values.data === 'string' ? values.data : join(ensureSyntheticDataset(cacheDir()), 'train.txt');
    const workers = numberOption(values, 'workers')!;
    const batchSize = numberOption(values, 'batch')!;
    const timedBatches = numberOption(values, 'batches')!;
    const loader = new WflwLoader({ annotationFile, batchSize, train: true, seed: 1, workers });
    let images = 0;
    let done = -1; // the first batch warms up the workers and is not timed
    let start = 0;
    try {
      for (let epoch = 0; done < timedBatches; epoch++) {
        for await (const batch of loader.epoch(epoch)) {
          if (++done === 0) start = performance.now();
          else images += batch.indices.length;
          if (done === timedBatches) break;
        }
      }
    } finally {
      await loader.close();
    }
    const seconds = (performance.now() - start) / 1000;
    const result = {
      benchmark: 'loader',
      annotationFile,
      workers,
      batchSize,
      batches: timedBatches,
      images,
      seconds: Number(seconds.toFixed(3)),
      imagesPerSecond: Number((images / seconds).toFixed(1)),
      msPerBatch: Number(((1000 * seconds) / timedBatches).toFixed(2)),
    };
    if (!values.json) {
      process.stdout.write(`data: ${annotationFile}\n`);
      process.stdout.write(formatTable(['workers', 'batch', 'batches', 'images/s', 'ms/batch'], [[workers, batchSize, timedBatches, result.imagesPerSecond, result.msPerBatch]]));
    }
    return result;
  },
};
