/**
 * The float32 convolution of a graph node as C for the cpu graph host (compiler/target/graph-host.ts),
 * printed from the template of compiler/host/conv-loop.ts (which says what it computes: exactly
 * the reference kernel's sums). The loop IR is integer-only, so this kernel is printed directly.
 */
import type { Graph, Node } from '../graph/ir.ts';
import { C_CONV, floatConvBody } from '../host/conv-loop.ts';
import type { CpuTargetSpec } from '../target/target.ts';
import { buildShared, loadKernel, type Kernel } from './build.ts';
import type { CSource } from './codegen.ts';

/** The C source of a float conv node: void NAME(const float *x, const float *w[, const float *b], float *y). */
export function floatConvSource(node: Node, g: Graph): CSource {
  const { body, OW, bias, name } = floatConvBody(node, g, C_CONV);
  const fn = `vtw_${name}`;
  const text = `#include <stddef.h>
/* ${node.op} node ${node.name}: float32, sums in double in the reference's order */
void ${fn}(const float *restrict x, const float *restrict w, ${bias ? 'const float *restrict b, ' : ''}float *restrict y) {
  double acc[${OW}];
  ${body}
}
`;
  // Only the parameter count matters to the builder and the loader.
  const params = Array.from({ length: bias ? 4 : 3 }, () => ({}) as CSource['params'][number]);
  return { name: fn, text, params, openmp: false, flags: ['-ffp-contract=off'] };
}

/** Build (cached) and load a float conv node's kernel for target `t`. */
export async function buildFloatConv(node: Node, g: Graph, t: CpuTargetSpec): Promise<Kernel> {
  const src = floatConvSource(node, g);
  return loadKernel(await buildShared(src, t), src);
}
