/**
 * The operator registry: every operator `vtw op` (and anything else) can compile, by name, with
 * the dimensions its shape lists, its computation in natural layout, and one strategy per kind of
 * target (VTA: the packed definition and VTA passes; cpu: a schedule of the natural definition).
 * A new operator is one more entry here; a new target kind is one more strategy in each entry.
 */
import type { Derived } from '../../src/config/derive.ts';
import { didYouMean } from '../../src/errors.ts';
import { CompileError } from '../errors.ts';
import type { CompileOptions } from './conv2d.ts';
import { defaultShift } from './common.ts';
import { compileConv2d, conv2dLayout } from './conv2d_op.ts';
import { compileDense, denseLayout } from './dense.ts';
import { addLayout, compileAdd, compileMaxPool, maxPoolLayout } from './elementwise.ts';
import type { OpInstance, OperandLayout } from './op.ts';
import { addDefinition, conv2dDefinition, denseDefinition, maxPoolDefinition, type OpDefinition } from './compute.ts';
import { cpuAdd, cpuConv2d, cpuDense, cpuMaxPool } from '../cpu/strategies.ts';
import { gpuConv2d, gpuDense, gpuElementwise } from '../gpu/strategies.ts';
import type { GpuStrategy, HostStrategy, VtaStrategy } from '../target/strategy.ts';

/** The parameters every operator is offered besides its shape; each takes the ones it has. */
export interface OpParams {
  batch: number;
  /** Groups of a grouped / depthwise convolution. */
  groups: number;
  /**
   * Requantization: arithmetic shift right (undefined: derived from the accumulation depth, so
   * outputs spread over the range), per-channel bias, clip (undefined: no clip).
   */
  shift?: number;
  bias: boolean;
  clip: [number, number] | undefined;
}

export interface OperatorEntry {
  name: string;
  description: string;
  /** Names of the shape's dimensions, in the order `--shape` gives them. */
  dims: readonly string[];
  /** Which of the common parameters it takes (for help texts). */
  params: readonly (keyof OpParams)[];
  /** A small shape that compiles on every preset (for help texts and the registry's own test). */
  example: readonly number[];
  /** The computation in natural layout, for the host targets. */
  define(shape: readonly number[], p: OpParams, d: Derived): OpDefinition;
  /** VTA's packed layouts of its operands (no compile: feeds a program built earlier). */
  vtaLayout(shape: readonly number[], p: OpParams, d: Derived): OperandLayout;
  /** How each kind of target compiles it (compiler/target/strategy.ts). */
  strategies: { vta: VtaStrategy<OpParams>; cpu: HostStrategy; gpu: GpuStrategy };
}

/** Requantization parameters of conv2d / dense from the common ones (shift from the depth by default). */
const convSpec = ([h, w, cin, cout, k, pad, stride]: readonly number[], p: OpParams, d: Derived) =>
  ({ batch: p.batch, h, w, cin, cout, k, pad, stride, groups: p.groups, shift: p.shift ?? defaultShift((cin / p.groups) * k * k, d), bias: p.bias, clip: p.clip });

function denseSpec([m, k, n]: readonly number[], p: OpParams, d: Derived) {
  if (p.groups !== 1) throw new CompileError('dense has no --groups');
  if (p.batch !== 1) throw new CompileError('dense takes its batch as M in --shape M,K,N, not --batch');
  return { m, k, n, shift: p.shift ?? defaultShift(k, d), bias: p.bias, clip: p.clip };
}

export const OPERATORS: readonly OperatorEntry[] = [
  {
    name: 'conv2d',
    description: '2-D convolution, grouped or depthwise with --groups, requantized',
    dims: ['H', 'W', 'CI', 'CO', 'K', 'PAD', 'STRIDE'],
    params: ['batch', 'groups', 'shift', 'bias', 'clip'],
    example: [4, 4, 16, 16, 3, 1, 2],
    define: (shape, p, d) => conv2dDefinition(convSpec(shape, p, d), d),
    vtaLayout: (shape, p, d) => conv2dLayout(convSpec(shape, p, d), d),
    strategies: { vta: { build: (shape, p, d, co) => compileConv2d(convSpec(shape, p, d), d, co) }, cpu: cpuConv2d, gpu: gpuConv2d },
  },
  {
    name: 'dense',
    description: 'matrix multiplication (fully connected layer), requantized',
    dims: ['M', 'K', 'N'],
    params: ['shift', 'bias', 'clip'],
    example: [4, 64, 32],
    define: (shape, p, d) => denseDefinition(denseSpec(shape, p, d), d),
    vtaLayout: (shape, p, d) => denseLayout(denseSpec(shape, p, d), d),
    strategies: { vta: { build: (shape, p, d, co) => compileDense(denseSpec(shape, p, d), d, co) }, cpu: cpuDense, gpu: gpuDense },
  },
  {
    name: 'add',
    description: 'element-wise addition of two tensors on the ALU',
    dims: ['H', 'W', 'C'],
    params: ['batch', 'clip'],
    example: [4, 4, 32],
    define: ([h, w, c], p, d) => addDefinition({ batch: p.batch, h, w, c, clip: p.clip }, d),
    vtaLayout: ([h, w, c], p, d) => addLayout({ batch: p.batch, h, w, c, clip: p.clip }, d),
    strategies: { vta: { build: ([h, w, c], p, d, co) => compileAdd({ batch: p.batch, h, w, c, clip: p.clip }, d, co) }, cpu: cpuAdd, gpu: gpuElementwise },
  },
  {
    name: 'maxpool',
    description: 'max pooling on the ALU',
    dims: ['H', 'W', 'C', 'K', 'PAD', 'STRIDE'],
    params: ['batch'],
    example: [6, 6, 32, 3, 1, 2],
    define: ([h, w, c, k, pad, stride], p, d) => maxPoolDefinition({ batch: p.batch, h, w, c, k, pad, stride }, d),
    vtaLayout: ([h, w, c, k, pad, stride], p, d) => maxPoolLayout({ batch: p.batch, h, w, c, k, pad, stride }, d),
    strategies: {
      vta: { build: ([h, w, c, k, pad, stride], p, d, co) => compileMaxPool({ batch: p.batch, h, w, c, k, pad, stride }, d, co) },
      cpu: cpuMaxPool,
      gpu: gpuElementwise,
    },
  },
];

export const OPERATOR_NAMES: readonly string[] = OPERATORS.map((o) => o.name);

export function findOperator(name: string): OperatorEntry {
  const op = OPERATORS.find((o) => o.name === name);
  if (!op) throw new CompileError(`unknown operator ${name}${didYouMean(name, OPERATOR_NAMES)}; operators: ${OPERATOR_NAMES.join(', ')}`);
  return op;
}
