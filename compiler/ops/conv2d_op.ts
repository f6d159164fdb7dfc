/** conv2d / group conv2d as compiled operators (definition in conv2d.ts, knobs in conv_knobs.ts). */
import type { Derived } from '../../src/config/derive.ts';
import { CompileError } from '../errors.ts';
import { lower } from '../te/lower.ts';
import { buildVta } from '../vta/build.ts';
import { vtaTarget } from '../vta/env.ts';
import { convOutputChannel, packBias, packConvData, packConvKernel, unpackConvOutput } from '../vta/pack.ts';
import type { Knobs } from './common.ts';
import { conv2dValues } from './compute.ts';
import { conv2dDef, conv2dSchedule, convGeom, type CompileOptions, type Conv2dSpec } from './conv2d.ts';
import { convCost, convKnobError, convKnobSpace, rankConvKnobs } from './conv_knobs.ts';
import { firstFitting, gemmOperands, type OpInstance, type OperandLayout } from './op.ts';
import { conv2dRef } from './reference.ts';

/**
 * The knob settings a compile may take, best first: all seven given -> those, validated; some given
 * -> the chooser's ranking of the rest; none -> the chooser's ranking. Without latency hiding both
 * thread counts are 1. (firstFitting takes the first whose program fits the DRAM.)
 */
export function knobCandidates(
  opts: CompileOptions,
  check: (k: Knobs) => string | undefined,
  rank: (o: { latencyHiding?: boolean; fixed?: Partial<Knobs> }) => Knobs[],
): Knobs[] {
  const fixed: Partial<Knobs> = { ...(opts.knobs ?? {}) };
  if (opts.latencyHiding === false) {
    if ((fixed.oc_nthread ?? 1) > 1 || (fixed.h_nthread ?? 1) > 1) throw new CompileError('--no-latency-hiding conflicts with thread knobs above 1');
    fixed.oc_nthread = 1;
    fixed.h_nthread = 1;
  }
  if (Object.keys(fixed).length === 7) {
    const k = fixed as Knobs;
    const err = check(k);
    if (err) throw new CompileError(`knobs ${JSON.stringify(k)} are not valid: ${err}`);
    return [k];
  }
  return rank({ latencyHiding: opts.latencyHiding, fixed });
}

/** conv2d's operand layouts (data, kernel, bias; output). */
export function conv2dLayout(spec: Conv2dSpec, d: Derived): OperandLayout {
  const g = convGeom(spec, d);
  return {
    pack: [(v) => packConvData(g, v), (v) => packConvKernel(g, v), (v) => packBias(g, v, convOutputChannel(g))],
    unpack: (v) => unpackConvOutput(g, v),
  };
}

export function compileConv2d(spec: Conv2dSpec, d: Derived, opts: CompileOptions = {}): OpInstance {
  const g = convGeom(spec, d);
  const t = vtaTarget(d);
  if (d.inpWidth > 8 || d.wgtWidth > 8) throw new CompileError('conv2d needs input and weight widths of at most 8 bits');
  return firstFitting(d, knobCandidates(opts, (k) => convKnobError(g, d, k), (o) => rankConvKnobs(g, d, o)), (knobs) => {
    const def = conv2dDef(g, t);
    const func = lower(conv2dSchedule(def, knobs, d.depth.acc), spec.groups > 1 ? 'group_conv2d' : 'conv2d');
    const module = buildVta(func, d);
    const macs = spec.batch * spec.cout * g.OH * g.OW * (spec.cin / spec.groups) * spec.k * spec.k;
    const buf = (x: Parameters<typeof func.bufferOf.get>[0]) => func.bufferOf.get(x)!;
    return {
      op: spec.groups > 1 ? 'group_conv2d' : 'conv2d',
      shape: { batch: spec.batch, h: spec.h, w: spec.w, cin: spec.cin, cout: spec.cout, k: spec.k, pad: spec.pad, stride: spec.stride, groups: spec.groups },
      d, knobs, module, macs,
      knobSpace: (o) => convKnobSpace(g, d, o),
      analyticCost: (k) => convCost(g, d, k),
      estimate: (k) => convCost(g, d, k).cycles,
      operands: (seed) => {
        const { data, weight, bias, requant } = conv2dValues(spec, d, seed);
        return {
          ...gemmOperands(buf, { data: def.data, weight: def.kernel, out: def.out, bias: def.bias }, conv2dLayout(spec, d), { data, weight, bias }),
          expected: () => conv2dRef(
            { n: spec.batch, cin: spec.cin, h: spec.h, w: spec.w, cout: spec.cout, k: spec.k, pad: spec.pad, stride: spec.stride, groups: spec.groups },
            data, weight, requant,
          ),
        };
      },
    };
  });
}
