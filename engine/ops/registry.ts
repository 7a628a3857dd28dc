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
import { witnesses as conv2d } from './conv2d/conv2d.ts';
import { witnesses as pooling } from './pooling.ts';

export const registry: OpWitness[] = [...arith, ...reduce, ...softmax, ...matmul, ...loss, ...layout, ...batchNorm, ...sepBatchNorm, ...conv2d, ...pooling];
