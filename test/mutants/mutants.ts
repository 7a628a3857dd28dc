// The mutants `npm run mutants` plants, one at a time: each a bug a review found that every test
// passed, and the tests written to catch it. A mutant that survives means those tests do not.

import type { Mutant } from './list.ts';

/** data/wflw-topology.json's flip: each point's mirror partner. */
const WFLW_FLIP = [
  32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
  46, 45, 44, 43, 42, 50, 49, 48, 47, 37, 36, 35, 34, 33, 41, 40, 39, 38, 51, 52, 53, 54, 59, 58, 57, 56, 55,
  72, 71, 70, 69, 68, 75, 74, 73, 64, 63, 62, 61, 60, 67, 66, 65, 82, 81, 80, 79, 78, 77, 76, 87, 86, 85, 84, 83,
  92, 91, 90, 89, 88, 95, 94, 93, 97, 96,
];

/** A flip array as data/wflw-topology.json writes it, one index a line, so find and replace are its text. */
function flipJson(flip: readonly number[]): string {
  return `"flip": [\n${flip.map((partner) => `  ${partner}`).join(',\n')}\n ]`;
}

const BATCH_NORM_TESTS = ['test/cli/grads.test.js', 'test/models/golden.test.js', 'test/nn/batch-norm-by-hand.test.js'];

export const MUTANTS: Mutant[] = [
  {
    id: 'bn-momentum',
    description: 'BatchNorm momentum 0.1 changed to 0.5',
    file: 'nn/layers/batch-norm.ts',
    find: 'export const BN_MOMENTUM = 0.1;',
    replace: 'export const BN_MOMENTUM = 0.5;',
    tests: BATCH_NORM_TESTS,
  },
  {
    id: 'bn-biased-running-var',
    description: 'the unbiased variance correction count / (count - 1) dropped from running_var',
    // BatchNorm2d and SepBN's K sets share this update, on both backends.
    file: 'engine/assign.ts',
    find: 'const varianceWeight = (momentum * count) / (count - 1);',
    replace: 'const varianceWeight = momentum;',
    tests: BATCH_NORM_TESTS,
  },
  {
    id: 'flip-identity',
    description: 'the flip permutation made the identity except 60 <-> 72 (the points an NME normalises by)',
    file: 'data/wflw-topology.json',
    find: flipJson(WFLW_FLIP),
    replace: flipJson(WFLW_FLIP.map((_, i) => (i === 60 ? 72 : i === 72 ? 60 : i))),
    tests: ['test/data/augment.test.js', 'test/data/flip.test.js'],
  },
  {
    id: 'test-crop-offset',
    description: 'the test-crop offset dropped: predictions stay in the 128 frame while the targets are in the 256 crop',
    file: 'data/evaluate.ts',
    find: '(v) => v + TEST_CROP_OFFSET)',
    replace: '(v) => v)',
    tests: ['test/cli/train.test.js', 'test/cli/test-command.test.js'],
  },
  {
    id: 'sepbn-groups-strided',
    description: 'SepBN groups > 1 take channel c into group c % G instead of contiguous blocks of C / G',
    file: 'engine/ops/sep-batch-norm/sep-batch-norm.ts',
    find:
      '  const byGroup = permute(stack(params).reshape([K, G, perGroup]), [1, 0, 2]); // [G, K, C/G]\n' +
      '  const weighted = mul(a.reshape([N, G, K, 1]), byGroup.reshape([1, G, K, perGroup]));\n' +
      '  return sum(weighted, 2).reshape([N, C]);',
    replace:
      '  const byGroup = permute(stack(params).reshape([K, perGroup, G]), [2, 0, 1]); // [G, K, C/G]\n' +
      '  const weighted = mul(a.reshape([N, G, K, 1]), byGroup.reshape([1, G, K, perGroup]));\n' +
      '  return permute(sum(weighted, 2), [0, 2, 1]).reshape([N, C]);',
    tests: ['test/ops/sep-batch-norm/sep-batch-norm.test.js', 'test/ops/sep-batch-norm/groups-by-hand.test.js', 'test/models/golden.test.js'],
  },
  {
    // The mutant above changes the composite specification, which the fused op is compared with;
    // this one the fused op's CPU forward, which the layer runs, so that the by-hand numbers must notice.
    id: 'sepbn-groups-strided-fused',
    description: 'the fused mix_affine (CPU) takes channel c into group c % G instead of contiguous blocks of C / G',
    file: 'engine/ops/sep-batch-norm/mix-affine.ts',
    find:
      '    const perGroup = C / G;\n' +
      '    for (let n = 0; n < N; n++) {\n' +
      '      for (let c = 0; c < C; c++) {\n' +
      '        const weights = (n * G + Math.floor(c / perGroup)) * K;',
    replace:
      '    for (let n = 0; n < N; n++) {\n' +
      '      for (let c = 0; c < C; c++) {\n' +
      '        const weights = (n * G + (c % G)) * K;',
    tests: ['test/ops/sep-batch-norm/groups-by-hand.test.js', 'test/ops/sep-batch-norm/sep-batch-norm.test.js', 'test/models/golden.test.js'],
  },
  {
    // A mutant the suite is known to kill in seconds: a check of the runner itself.
    id: 'failure-at-threshold',
    description: 'an NME equal to the 0.1 threshold counted as a failure',
    file: 'data/metrics.ts',
    find: 'for (let i = 0; i < nmes.length; i++) if (!(nmes[i] <= threshold)) failures++;',
    replace: 'for (let i = 0; i < nmes.length; i++) if (!(nmes[i] < threshold)) failures++;',
    tests: ['test/data/metrics.test.js'],
  },
  {
    id: 'nan-face-passes',
    description: 'a face predicted as NaN counted as within the threshold (FR@0.1 0 % for a network that predicts nothing)',
    file: 'data/metrics.ts',
    find: 'for (let i = 0; i < nmes.length; i++) if (!(nmes[i] <= threshold)) failures++;',
    replace: 'for (let i = 0; i < nmes.length; i++) if (nmes[i] > threshold) failures++;',
    tests: ['test/data/metrics-non-finite.test.js', 'test/cli/test-non-finite.test.js'],
  },
  {
    id: 'sgd-without-momentum',
    description: 'train.js --optimizer sgd without the momentum 0.9 the commands promise (found while writing the CLI tests)',
    file: 'models/run.ts',
    find: "return settings.optimizer === 'sgd' ? { momentum: TRAINING_DEFAULTS.sgd.momentum } : {};",
    replace: "return settings.optimizer === 'sgd' ? { momentum: 0 * TRAINING_DEFAULTS.sgd.momentum } : {};",
    tests: ['test/cli/train-optimizers.test.js'],
  },
  {
    id: 'float-bytes-as-integers',
    description: 'a state dict whose float weights are labelled I32 loads them as integers (issue 13)',
    file: 'nn/state-dict-values.ts',
    find: '} else if (!(slot instanceof Counter ? COUNT_DTYPES : FLOAT_DTYPES).includes(t.dtype)) {',
    replace: '} else if (slot instanceof Counter && !COUNT_DTYPES.includes(t.dtype)) {',
    tests: ['test/nn/state-dict.test.js'],
  },
  {
    id: 'nan-prediction-token-refused',
    description: 'test --predictions refuses a face predicted as nan instead of scoring it as a failure (issue 13)',
    file: 'data/predictions.ts',
    find: "if (word) return word[2].toLowerCase() === 'nan' ? NaN : word[1] === '-' ? -Infinity : Infinity;",
    replace: "if (word) return undefined;",
    tests: ['test/cli/test-command.test.js'],
  },
];
