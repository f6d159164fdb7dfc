/**
 * Blocked layouts, described once: a block spec {B, BI, BO} (batch rows, input-channel lanes,
 * output-channel lanes of one block) and, for a grouped convolution, how channels are packed into
 * blocks (several narrow groups per block: a supergroup). Everything that moves an activation
 * between the natural NCHW layout and a blocked one derives from `ChannelPacking` and
 * `ActivationLayout`:
 *
 * - the TE pack stage of the host targets (natural -> blocked, padding folded in) reads the natural
 *   tensor through `naturalChannel` (blocked position -> natural channel, or none);
 * - their fused unpack (blocked accumulators -> natural output) reads through `packedChannelExpr`;
 * - VTA's host-side packers (compiler/vta/pack.ts) use `packedChannel` on numbers.
 *
 * VTA instantiates the block spec from its configuration (BATCH, BLOCK_IN, BLOCK_OUT); the CPU with
 * (1, 4, lanes of its int8 dot-product instruction); the natural layout is blocks of 1, whose unit
 * block dimensions are dropped (`dropUnitBlocks`), so its tensors are plain NCHW / OIHW.
 */
import { add, and, div, int, lt, mod, mul, type Expr } from '../ir/expr.ts';

export interface BlockSpec {
  /** Batch rows of one block. */
  B: number;
  /** Input channels of one block (the reduction lanes of one GEMM / dot-product step). */
  BI: number;
  /** Output channels of one block. */
  BO: number;
}

/** The natural layout: blocks of one. */
export const NATURAL_BLOCKS: BlockSpec = { B: 1, BI: 1, BO: 1 };

/**
 * How the channels of a (grouped) tensor sit in blocks: `groups` groups of `perGroup` channels,
 * `gs` groups side by side in one supergroup, a supergroup spanning `blocks` blocks of `block` lanes.
 */
export interface ChannelPacking {
  perGroup: number;
  groups: number;
  gs: number;
  blocks: number;
  block: number;
}

/** Blocks of all supergroups. */
export const totalBlocks = (p: ChannelPacking): number => (p.groups / p.gs) * p.blocks;

/** Packed position (block * block size + lane) of natural channel `c`. */
export function packedChannel(p: ChannelPacking, c: number): number {
  const gi = Math.floor(c / p.perGroup);
  return Math.floor(gi / p.gs) * p.blocks * p.block + (gi % p.gs) * p.perGroup + (c % p.perGroup);
}

/** `packedChannel` as an expression (simplest form where the packing is the identity). */
export function packedChannelExpr(p: ChannelPacking, c: Expr): Expr {
  if (p.gs === 1 && p.perGroup === p.blocks * p.block) return c;
  const gi = div(c, p.perGroup);
  const sg = p.gs === 1 ? gi : div(gi, p.gs);
  const inGroup = p.gs === 1 ? int(0) : mul(mod(gi, p.gs), p.perGroup);
  return add(add(mul(sg, p.blocks * p.block), inGroup), mod(c, p.perGroup));
}

/**
 * The natural channel at packed position `pc`, and the condition under which there is one (padded
 * lanes of a block hold no channel): the inverse of `packedChannelExpr`.
 */
export function naturalChannel(p: ChannelPacking, pc: Expr): { c: Expr; valid?: Expr } {
  const span = p.blocks * p.block;
  const one = p.groups / p.gs === 1;
  const sg = one ? int(0) : div(pc, span);
  const off = one ? pc : mod(pc, span);
  const used = p.gs * p.perGroup;
  const valid = used < span ? lt(off, used) : undefined;
  if (p.gs === 1) return { c: one ? off : add(mul(sg, p.perGroup), off), valid };
  const c = add(mul(add(mul(sg, p.gs), div(off, p.perGroup)), p.perGroup), mod(off, p.perGroup));
  return { c, valid };
}

/** Index of a blocked tensor [outer dims...][block dims...], block dims of extent 1 dropped when asked. */
export function blockedIndex(outer: Expr[], block: Array<[Expr, number]>, dropUnitBlocks: boolean): Expr[] {
  return [...outer, ...block.filter(([, n]) => !dropUnitBlocks || n > 1).map(([e]) => e)];
}

export function blockedShape(outer: number[], block: number[], dropUnitBlocks: boolean): number[] {
  return [...outer, ...block.filter((n) => !dropUnitBlocks || n > 1)];
}

/** Natural batch row of (batch block, row in block), and whether it exists (padded rows do not). */
export function naturalRow(nb: Expr, b: Expr, B: number, batch: number): { n: Expr; valid?: Expr } {
  if (B === 1) return { n: nb };
  const n = add(mul(nb, B), b);
  return { n, valid: batch % B ? lt(n, batch) : undefined };
}

/** Conjunction of optional conditions. */
export function allOf(...cs: Array<Expr | undefined>): Expr | undefined {
  const xs = cs.filter((c): c is Expr => c !== undefined);
  return xs.length ? and(...xs) : undefined;
}
