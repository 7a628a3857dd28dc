// Every op family's witness cases, walked by the generic test and by `node cli/gradcheck.js`.
import type { OpWitness } from './witness.ts';
import { witnesses as arith } from './arith.ts';
import { witnesses as reduce } from './reduce.ts';
import { witnesses as softmax } from './softmax.ts';
import { witnesses as matmul } from './matmul.ts';
import { witnesses as loss } from './loss.ts';
import { witnesses as layout } from './layout.ts';
import { witnesses as batchNorm } from './batch-norm.ts';
import { witnesses as sepBatchNorm } from './sep-batch-norm/sep-batch-norm.ts';
import { witnesses as mixAffine } from './sep-batch-norm/mix-affine.ts';
import { witnesses as sepBnAttention } from './sep-batch-norm/attention.ts';
import { witnesses as conv2d } from './conv2d/conv2d.ts';
import { witnesses as pooling } from './pooling.ts';

export const registry: OpWitness[] = [...arith, ...reduce, ...softmax, ...matmul, ...loss, ...layout, ...batchNorm, ...mixAffine, ...sepBnAttention, ...sepBatchNorm, ...conv2d, ...pooling];

/** The ops no witness names, each with the reason; test/ops/witness-names.test.ts fails for any other. */
export const unwitnessed: Record<string, string> = {
  leaky_relu_backward: "leaky_relu's backward rule; the leaky_relu witness checks it on both backends",
  sign: "piecewise constant, so there is no gradient to check; abs's backward rule runs it",
  softmax_backward: "softmax's backward rule; the softmax witness checks it",
  max_pool2d_backward: "max_pool2d's backward rule; the max_pool2d witness checks it",
  conv2d_backward_input: "conv2d's backward rule for x; the conv2d witness checks it",
  conv2d_backward_weight: "conv2d's backward rule for the weight; the conv2d witness checks it",
  batch_norm_backward_sums: "batch_norm_train's backward rule; the batch_norm_train witness checks it",
  batch_norm_backward_input: "batch_norm_train's backward rule; the batch_norm_train witness checks it",
  batch_norm_backward_coefficients: "batch_norm_train's backward rule; the batch_norm_train witness checks it",
  unstack: "stack's backward rule; the stack witness checks it",
  mix_affine_backward: "mix_affine's backward rule; the mix_affine witness checks it on both backends",
  sepbn_attention_backward_hidden: "sepbn_attention's backward rule; the sepbn_attention witness checks it on both backends",
  sepbn_attention_backward_params: "sepbn_attention's backward rule; the sepbn_attention witness checks it on both backends",
  sepbn_train_backward_hidden: "sepbn_train's backward rule; the sepbn_train witness checks it on both backends",
};
