/**
 * Shape arithmetic shared by shape inference (compiler/graph/ops.ts) and the host kernels
 * (compiler/host/kernels.ts), so the two cannot disagree: broadcasting, convolution and pooling
 * windows (auto_pad, ceil_mode, dilation), Reshape targets, Slice bounds, Resize sizes.
 */
import { CompileError } from '../errors.ts';
import type { Node } from './ir.ts';

export function normAxis(a: number, rank: number): number {
  const v = a < 0 ? a + rank : a;
  if (v < 0 || v >= rank) throw new CompileError(`axis ${a} is outside a rank-${rank} tensor`);
  return v;
}

/** numpy broadcasting of two shapes. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1;
    const y = b[b.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new CompileError(`shapes [${a.join(',')}] and [${b.join(',')}] do not broadcast`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

function ints(n: Node, name: string): number[] | undefined {
  const a = n.attrs[name];
  return Array.isArray(a) ? (a as number[]) : undefined;
}

export interface Window {
  KH: number; KW: number; SH: number; SW: number; DH: number; DW: number;
  PT: number; PL: number; PB: number; PR: number; OH: number; OW: number;
}

/**
 * The 2-D window of a Conv / pool node over spatial dims `spatial` (1-D data gets H = 1). `kernel`
 * is the window (from the weight or kernel_shape); `ceil` rounds the output size up (pooling).
 */
function window(n: Node, spatial: readonly number[], kernel: readonly number[], ceil: boolean): Window {
  if (spatial.length < 1 || spatial.length > 2) throw new CompileError(`${n.op} node ${n.name}: ${spatial.length}-D ${n.op} is not supported (1-D and 2-D are)`);
  const one = spatial.length === 1;
  const widen = (v: number[] | undefined, d: number): number[] => (v ? (one ? [d, v[0]] : v) : [d, d]);
  const [H, W] = one ? [1, spatial[0]] : spatial;
  const [KH, KW] = one ? [1, kernel[0]] : kernel;
  const [SH, SW] = widen(ints(n, 'strides'), 1);
  const [DH, DW] = widen(ints(n, 'dilations'), 1);
  const autoPad = typeof n.attrs.auto_pad === 'string' ? n.attrs.auto_pad : 'NOTSET';
  let [PT, PL, PB, PR] = [0, 0, 0, 0];
  const p = ints(n, 'pads');
  if (p) [PT, PL, PB, PR] = one ? [0, p[0], 0, p[1]] : p;
  const ekH = (KH - 1) * DH + 1;
  const ekW = (KW - 1) * DW + 1;
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const total = (I: number, S: number, ek: number) => Math.max((Math.ceil(I / S) - 1) * S + ek - I, 0);
    const tH = total(H, SH, ekH);
    const tW = total(W, SW, ekW);
    const lower = autoPad === 'SAME_LOWER';
    PT = lower ? Math.ceil(tH / 2) : Math.floor(tH / 2);
    PB = tH - PT;
    PL = lower ? Math.ceil(tW / 2) : Math.floor(tW / 2);
    PR = tW - PL;
  } else if (autoPad === 'VALID') {
    [PT, PL, PB, PR] = [0, 0, 0, 0];
  }
  const size = (I: number, P: number, ek: number, S: number, start: number) => {
    const span = I + P - ek;
    if (!ceil) return Math.floor(span / S) + 1;
    let o = Math.ceil(span / S) + 1;
    if ((o - 1) * S >= I + start) o--; // the last window must start inside the input or the leading padding
    return o;
  };
  const OH = size(H, PT + PB, ekH, SH, PT);
  const OW = size(W, PL + PR, ekW, SW, PL);
  if (OH < 1 || OW < 1) throw new CompileError(`${n.op} node ${n.name}: a ${KH}x${KW} window does not fit a ${H}x${W} input`);
  return { KH, KW, SH, SW, DH, DW, PT, PL, PB, PR, OH, OW };
}

export interface ConvGeometry extends Window {
  M: number;
  G: number;
  outShape: number[];
}

export function convGeometry(n: Node, x: readonly number[], w: readonly number[]): ConvGeometry {
  if (x.length !== w.length) throw new CompileError(`${n.op} node ${n.name}: input rank ${x.length} and weight rank ${w.length} differ`);
  const G = typeof n.attrs.group === 'number' ? n.attrs.group : 1;
  const C = x[1];
  const M = w[0];
  if (C % G || M % G || w[1] !== C / G) {
    throw new CompileError(`${n.op} node ${n.name}: ${C} input channels, weight [${w.join(',')}] and group ${G} do not fit together`);
  }
  const win = window(n, x.slice(2), w.slice(2), false);
  const outShape = x.length === 3 ? [x[0], M, win.OW] : [x[0], M, win.OH, win.OW];
  return { ...win, M, G, outShape };
}

export function poolGeometry(n: Node, x: readonly number[]): Window & { outShape: number[] } {
  const k = ints(n, 'kernel_shape');
  if (!k) throw new CompileError(`${n.op} node ${n.name}: kernel_shape is missing`);
  const win = window(n, x.slice(2), k, (n.attrs.ceil_mode ?? 0) === 1);
  const outShape = x.length === 3 ? [x[0], x[1], win.OW] : [x[0], x[1], win.OH, win.OW];
  return { ...win, outShape };
}

/** Reshape's target: 0 copies the input dimension (unless allowzero), one -1 takes the rest. */
export function reshapeTarget(x: readonly number[], spec: readonly number[], allowZero: boolean): number[] {
  const total = x.reduce((a, b) => a * b, 1);
  const out = spec.map((d, i) => (d === 0 && !allowZero ? x[i] : d));
  const unknown = out.indexOf(-1);
  if (unknown >= 0) {
    const known = out.reduce((a, d, i) => (i === unknown ? a : a * d), 1);
    if (known === 0 || total % known) throw new CompileError(`cannot reshape [${x.join(',')}] to [${spec.join(',')}]`);
    out[unknown] = total / known;
  }
  if (out.reduce((a, b) => a * b, 1) !== total || out.some((d) => d < 0)) throw new CompileError(`cannot reshape [${x.join(',')}] to [${spec.join(',')}]`);
  return out;
}

/** Slice's per-dimension start, step and output size (ONNX's clamping rules). */
export function sliceParams(x: readonly number[], starts: number[], ends: number[], axes?: number[], steps?: number[]): { start: number[]; step: number[]; outShape: number[] } {
  const r = x.length;
  const start = x.map(() => 0);
  const step = x.map(() => 1);
  const outShape = [...x];
  const ax = axes ?? starts.map((_, i) => i);
  ax.forEach((a0, i) => {
    const a = normAxis(a0, r);
    const D = x[a];
    const s = steps ? steps[i] : 1;
    if (s === 0) throw new CompileError('Slice step 0');
    let b = starts[i] < 0 ? starts[i] + D : starts[i];
    let e = ends[i] < 0 ? ends[i] + D : ends[i];
    if (s > 0) {
      b = Math.min(Math.max(b, 0), D);
      e = Math.min(Math.max(e, 0), D);
    } else {
      b = Math.min(Math.max(b, -1), D - 1);
      e = Math.min(Math.max(e, -1), D - 1);
    }
    start[a] = b;
    step[a] = s;
    outShape[a] = Math.max(0, Math.ceil((e - b) / s));
  });
  return { start, step, outShape };
}

/** Resize's output shape from scales or sizes. */
export function resizeOutputShape(n: Node, x: readonly number[], scales?: number[], sizes?: number[]): number[] {
  if (sizes) {
    if (sizes.length !== x.length) throw new CompileError(`Resize node ${n.name}: ${sizes.length} sizes for a rank-${x.length} input`);
    return [...sizes];
  }
  if (!scales) throw new CompileError(`Resize node ${n.name}: neither scales nor sizes is given`);
  if (scales.length !== x.length) throw new CompileError(`Resize node ${n.name}: ${scales.length} scales for a rank-${x.length} input`);
  return x.map((d, i) => Math.floor(d * scales[i]));
}

/** ONNX `pads` of a Conv/pool node as [top, left, bottom, right] (zeros when absent). */
export function padsOf(n: Node, spatial: number): number[] {
  const p = ints(n, 'pads');
  if (!p) return new Array(2 * spatial).fill(0);
  return p;
}
