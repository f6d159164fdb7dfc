/**
 * The plain TypeScript host target: every operator of the graph IR by the kernels of
 * compiler/host/kernels.ts (and the quantized operators by compiler/graph/quantized.ts). The reference for the other host targets and for constant folding.
 */
import type { HostTarget } from '../graph/executor.ts';
import { QUANTIZED_KERNELS, isQuantizedOp } from '../graph/quantized.ts';
import { KERNELS } from './kernels.ts';

export const TS_HOST: HostTarget = {
  name: 'ts',
  kernelFor: (node) => (isQuantizedOp(node.op) ? QUANTIZED_KERNELS[node.op] : KERNELS[node.op]),
};
