// A training run's faces from prepared WFLW256 files: augmented training batches from the
// worker-thread loader, and the test set's NME scored as `node cli/test.js` scores it.
import type { RunData, RunSettings } from '../models/run.ts';
import type { VanillaCnn } from '../models/vanilla-cnn.ts';
import { predictFile, scoreFiles } from './evaluate.ts';
import { WflwLoader } from './loader.ts';

export interface RunFiles {
  /** train.txt of a prepared folder (cli/prepare.js). */
  train: string;
  /** test.txt, scored after every epoch. */
  test: string;
}

/** Opens the files for a run's batch size and seed; `workers` loader threads (0: the calling thread). */
export function wflwRunData(files: RunFiles, settings: Pick<RunSettings, 'batch' | 'seed'>, workers?: number): RunData {
  const loader = new WflwLoader({ annotationFile: files.train, batchSize: settings.batch, train: true, seed: settings.seed, workers });
  return {
    epoch: (epoch) => loader.epoch(epoch),
    batchesPerEpoch: loader.batchesPerEpoch,
    describe: `${files.train} has ${loader.samples.length} faces`,
    async testNme(model: VanillaCnn): Promise<number> {
      const predictions = await predictFile(model, files.test, { batchSize: settings.batch, workers });
      return scoreFiles(predictions, [{ name: 'test', file: files.test }])[0].nme;
    },
    close: () => loader.close(),
  };
}
