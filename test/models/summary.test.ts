import t from 'tap';
import { modelConfig, buildModel } from '../../models/registry.ts';
import { summarize } from '../../models/summary.ts';
import { useBackend } from '../../engine/backend.ts';
import { INPUT_SIZE, LANDMARKS } from '../../models/vanilla-cnn.ts';
import { INPUT_SIZE as DATA_INPUT_SIZE } from '../../data/augment.ts';
import { LANDMARK_COUNT } from '../../data/topology.ts';

// models/ sits below data/ and cannot import it, so the network and the data path each state the
// input size and the landmark count; this pins the two copies together.
t.test('the network and the data path agree on the input size and the landmark count', async (t) => {
  t.equal(INPUT_SIZE, DATA_INPUT_SIZE);
  t.equal(LANDMARKS, LANDMARK_COUNT);
});

t.test('full-size totals are the paper reference sizes', async (t) => {
  const baseline = summarize(modelConfig('baseline'));
  const sepbn = summarize(modelConfig('sepbn'));
  t.equal(baseline.totalParameters, 42_327_876);
  t.equal(sepbn.totalParameters, 42_909_940);
  t.equal((baseline.totalMacs / 1e9).toFixed(2), '1.56');
  t.equal((sepbn.totalMacs / 1e9).toFixed(2), '1.58');
});

t.test('the summary counts the parameters a built model has', async (t) => {
  await useBackend('cpu');
  for (const name of ['baseline', 'sepbn', 'bn'] as const) {
    for (const width of [8, 32]) {
      const model = buildModel(modelConfig(name, width));
      const built = model.namedParameters().reduce((a, [, p]) => a + p.size, 0);
      t.equal(summarize(modelConfig(name, width)).totalParameters, built, `${name} width ${width}`);
    }
  }
});

t.test('a width that does not divide the channels is refused', async (t) => {
  t.throws(() => summarize(modelConfig('baseline', 3)), /width divisor 3/);
});
