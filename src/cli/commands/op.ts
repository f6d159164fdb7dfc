/**
 * `vtw op`: compile one operator for a configuration with the tensor compiler (compiler/), run it
 * on an engine, report cycles / ideal cycles / utilization / instructions / bytes / knobs, and with
 * --check compare the output bit for bit with a plain reference.
 */
import type { Command } from 'commander';
import { loadConfig } from '../../config/index.ts';
import { VtwError } from '../../errors.ts';
import { parseJsonText, quoteUser } from '../../util/quote.ts';
import { insnCount, writeProgram } from '../../program/index.ts';
import { table } from '../../report/table.ts';
import { getEngine } from '../../../sim/engines.ts';
import { compileConv2d } from '../../../compiler/ops/conv2d_op.ts';
import { compileDense } from '../../../compiler/ops/dense.ts';
import { compileAdd, compileMaxPool } from '../../../compiler/ops/elementwise.ts';
import { defaultClip, defaultShift, MAX_DIM, parseKnobs, type Knobs } from '../../../compiler/ops/common.ts';
import { idealCycles, runOp, type OpInstance } from '../../../compiler/ops/op.ts';
import { PASSES, type PassName } from '../../../compiler/vta/build.ts';
import { printStmt } from '../../../compiler/ir/printer.ts';
import type { Derived } from '../../config/derive.ts';

export const OP_KINDS = ['conv2d', 'dense', 'add', 'maxpool'] as const;

const SHAPES: Record<string, string> = {
  conv2d: 'H,W,CI,CO,K,PAD,STRIDE',
  dense: 'M,K,N',
  add: 'H,W,C',
  maxpool: 'H,W,C,K,PAD,STRIDE',
};

interface OpOptions {
  config: string;
  shape?: string;
  batch: string;
  groups: string;
  engine: string;
  knobs?: string;
  latencyHiding: boolean;
  check?: boolean;
  json?: boolean;
  emit?: string;
  shift?: string;
  bias: boolean;
  clip?: string;
  relu?: boolean;
  seed: string;
  printIr?: string;
}

function ints(text: string, n: number, what: string): number[] {
  const parts = text.split(',').map((x) => x.trim());
  const vals = parts.map(Number);
  if (parts.length !== n || vals.some((v) => !Number.isInteger(v) || v < 0)) {
    throw new VtwError(`--shape ${quoteUser(text, 60)}: expected ${n} non-negative integers ${what}`);
  }
  const big = parts.find((p, i) => vals[i] > MAX_DIM);
  if (big !== undefined) throw new VtwError(`--shape ${quoteUser(text, 60)}: ${quoteUser(big, 30)} is larger than the ${MAX_DIM} a dimension may have`);
  return vals;
}

function intOpt(v: string, name: string, min = 0): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new VtwError(`--${name} ${v} must be an integer >= ${min}`);
  return n;
}

function clipOf(opts: OpOptions, d: Derived): [number, number] | undefined {
  if (opts.clip === 'none') return undefined;
  if (opts.clip) {
    const [lo, hi] = opts.clip.split(',').map(Number);
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo > hi) throw new VtwError(`--clip ${opts.clip} must be LO,HI with LO <= HI (or none)`);
    return [lo, hi];
  }
  return defaultClip(d);
}

export function compileFromCli(kind: string, opts: OpOptions, d: Derived): OpInstance {
  if (!(OP_KINDS as readonly string[]).includes(kind)) throw new VtwError(`unknown operator ${kind}; operators: ${OP_KINDS.join(', ')}`);
  if (!opts.shape) throw new VtwError(`vtw op ${kind} needs --shape ${SHAPES[kind]}`);
  let knobs: Partial<Knobs> | undefined;
  if (opts.knobs) {
    const json = parseJsonText(opts.knobs, '--knobs', (m) => new VtwError(m));
    const full = parseKnobs(json, { tile_b: 1, tile_h: 1, tile_w: 1, tile_ci: 1, tile_co: 1, oc_nthread: 1, h_nthread: 1 });
    knobs = Object.fromEntries(Object.keys(json as object).map((k) => [k, full[k as keyof Knobs]]));
  }
  const batch = intOpt(opts.batch, 'batch', 1);
  const groups = intOpt(opts.groups, 'groups', 1);
  const shift = opts.shift === undefined ? undefined : intOpt(opts.shift, 'shift');
  const co = { knobs, latencyHiding: opts.latencyHiding };
  switch (kind) {
    case 'conv2d': {
      const [h, w, cin, cout, k, pad, stride] = ints(opts.shape, 7, SHAPES.conv2d);
      return compileConv2d({ batch, h, w, cin, cout, k, pad, stride, groups, shift: shift ?? defaultShift((cin / groups) * k * k, d), bias: opts.bias, clip: clipOf(opts, d) }, d, co);
    }
    case 'dense': {
      const [m, k, n] = ints(opts.shape, 3, SHAPES.dense);
      if (groups !== 1) throw new VtwError('dense has no --groups');
      if (batch !== 1) throw new VtwError('dense takes its batch as M in --shape M,K,N, not --batch');
      return compileDense({ m, k, n, shift: shift ?? defaultShift(k, d), bias: opts.bias, clip: clipOf(opts, d) }, d, co);
    }
    case 'add': {
      const [h, w, c] = ints(opts.shape, 3, SHAPES.add);
      return compileAdd({ batch, h, w, c, clip: clipOf(opts, d) }, d, co);
    }
    default: {
      const [h, w, c, k, pad, stride] = ints(opts.shape, 6, SHAPES.maxpool);
      return compileMaxPool({ batch, h, w, c, k, pad, stride }, d, co);
    }
  }
}

export function registerOp(program: Command): void {
  program
    .command('op')
    .description('compile an operator with the tensor compiler, run it and report cycles, utilization, instructions and bytes')
    .argument('<operator>', `one of ${OP_KINDS.join(', ')}`)
    .option('-c, --config <config>', 'preset name, JSON file or inline JSON', 'default')
    .option('--shape <dims>', `conv2d ${SHAPES.conv2d}; dense ${SHAPES.dense}; add ${SHAPES.add}; maxpool ${SHAPES.maxpool}`)
    .option('--batch <n>', 'batch size (conv2d, add, maxpool)', '1')
    .option('--groups <g>', 'groups of a grouped / depthwise conv2d', '1')
    .option('-e, --engine <engine>', 'engine: ts, verilator or both', 'ts')
    .option('--knobs <json>', 'schedule knobs, e.g. {"tile_h":7,"oc_nthread":2}; unspecified ones are chosen')
    .option('--no-latency-hiding', 'one virtual thread: no overlap of load, compute and store')
    .option('--check', 'compare the output bit for bit with a plain reference')
    .option('--json', 'print JSON')
    .option('--emit <file>', 'write the program container (for vtw sim / vtw disasm)')
    .option('--shift <n>', 'requantization: arithmetic shift right (conv2d, dense; default from the accumulation depth, so outputs spread over the range)')
    .option('--no-bias', 'no per-channel bias (conv2d, dense)')
    .option('--clip <lo,hi>', 'clip the result before the cast (default 0,max of the output type; "none" for no clip)')
    .option('--seed <n>', 'seed of the random operands', '1')
    .option('--print-ir <pass>', `print the IR after a pass: ${PASSES.join(', ')}`)
    .action(async (kind: string, opts: OpOptions) => {
      const d = loadConfig(opts.config);
      if (opts.printIr && !(PASSES as readonly string[]).includes(opts.printIr)) {
        throw new VtwError(`--print-ir ${opts.printIr}: passes are ${PASSES.join(', ')}`);
      }
      const engine = getEngine(opts.engine, { onProgress: (m: string) => process.stderr.write(`${m}\n`), failDir: 'build/mismatch' });
      const inst = compileFromCli(kind, opts, d);
      if (opts.printIr) process.stderr.write(printStmt(inst.module.ir[opts.printIr as PassName]));
      const run = await runOp(inst, engine, { seed: intOpt(opts.seed, 'seed'), check: opts.check });
      if (run.result.error) throw new VtwError(`${engine.name} engine: ${run.result.error.kind}: ${run.result.error.message}`);
      if (opts.emit) writeProgram(opts.emit, run.program);
      const c = run.result.counters;
      const ideal = idealCycles(inst);
      const j = {
        op: inst.op,
        config: d.variant,
        engine: engine.name,
        shape: inst.shape,
        cycles: c.cycles,
        ideal_cycles: ideal,
        utilization: +(ideal / c.cycles).toFixed(6),
        macs: inst.macs,
        insns: insnCount(run.program),
        bytes: c.bytes,
        gemm_uops: c.gemm_uops,
        alu_uops: c.alu_uops,
        knobs: inst.knobs,
        ...(opts.check ? { match: run.match } : {}),
        ...(opts.emit ? { emitted: opts.emit } : {}),
      };
      if (opts.json) {
        console.log(JSON.stringify(j, null, 2));
      } else {
        const dims = Object.entries(inst.shape).map(([k, v]) => `${k}=${v}`).join(' ');
        console.log(`${inst.op} ${dims} on ${d.variant} (${engine.name} engine)`);
        console.log(table(['cycles', 'ideal cycles', 'utilization', 'instructions'], [[c.cycles, ideal, `${((ideal / c.cycles) * 100).toFixed(1)} %`, j.insns]]));
        console.log(table(['bytes', ...Object.keys(c.bytes)], [['moved', ...Object.values(c.bytes)]]));
        console.log(`knobs ${JSON.stringify(inst.knobs)}`);
        if (opts.emit) console.log(`wrote ${opts.emit}`);
        if (opts.check) console.log(run.match ? 'check: output matches the reference bit for bit' : `check: MISMATCH (${run.mismatch})`);
      }
      if (opts.check && !run.match) {
        if (!opts.json) process.stderr.write(`vtw: error: ${inst.op} output differs from the reference: ${run.mismatch}\n`);
        process.exitCode = 1;
      }
    });
}
