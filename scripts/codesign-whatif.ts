/**
 * What-if measurements for the co-design options (docs/microarch.md §15.1): ResNet-18's 1x1 layers
 * compiled for a configuration, then simulated as compiled and with the compiled program edited —
 * `noreset`: reset GEMMs without micro-ops (iter_out 0; what a first reduction step that overwrites
 * instead of accumulating would give), `halfinp`: LOAD INPs of half the width (an upper bound of a
 * strided LOAD of the used columns). Cycles only: the simulator starts from zeroed SRAM and its
 * timing does not depend on the data, so the edited programs are not checked for results.
 *
 *   npx tsx scripts/codesign-whatif.ts [--config default-codesign] [--layers C4,C7] [--knobs JSON]
 */
import { loadConfig } from '../src/config/index.ts';
import { VtwError } from '../src/errors.ts';
import { decodeInsn, encodeInsn, type Insn } from '../src/isa/insn.ts';
import type { Program } from '../src/program/container.ts';
import { compileConv2d } from '../compiler/ops/conv2d_op.ts';
import { buildProgram, idealCycles } from '../compiler/ops/op.ts';
import { RESNET18_LAYERS } from '../compiler/bench/layers.ts';
import { runSync } from '../sim/ts/engine.ts';
import { INSN_BYTES } from '../src/isa/constants.ts';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : dflt);

/** A copy of `p` with every instruction passed through `edit` (which returns whether it changed it). */
function edited(p: Program, edit: (insn: Insn) => boolean): { program: Program; changed: number } {
  const buffers = p.buffers.map((b) => ({ ...b, ...(b.data ? { data: b.data.slice() } : {}) }));
  const ib = buffers.find((b) => b.kind === 'insn');
  if (!ib?.data) throw new VtwError('the program has no instruction buffer');
  let changed = 0;
  const bytes = ib.data;
  for (let off = 0; off + INSN_BYTES <= bytes.length; off += INSN_BYTES) {
    const insn = decodeInsn(p.config, bytes, off);
    if (edit(insn)) {
      bytes.set(encodeInsn(p.config, insn), off);
      changed++;
    }
  }
  return { program: { config: p.config, buffers }, changed };
}

const EDITS: Record<string, (insn: Insn) => boolean> = {
  noreset: (i) => {
    if (i.opcode !== 'GEMM' || !i.reset_reg) return false;
    i.iter_out = 0;
    return true;
  },
  halfinp: (i) => {
    if (i.opcode !== 'LOAD' || i.memory_type !== 'INP' || i.x_size < 2) return false;
    i.x_size = Math.ceil(i.x_size / 2);
    return true;
  },
};

try {
  const d = loadConfig(opt('config', 'default-codesign'));
  const knobs = opt('knobs', '');
  const names = opt('layers', 'C4,C7,C10').split(',');
  for (const name of names) {
    const l = RESNET18_LAYERS.find((x) => x.name === name);
    if (!l) throw new VtwError(`--layers: no ResNet-18 layer ${name} (C2..C11)`);
    const inst = compileConv2d({ ...l.spec, shift: 8, bias: false, clip: [0, 127] }, d, { latencyHiding: true, ...(knobs ? { knobs: JSON.parse(knobs) } : {}) });
    const { program } = buildProgram(inst);
    const util = (c: number) => `${c} cycles (${((idealCycles(inst) / c) * 100).toFixed(1)} %)`;
    const row = [`${name} ${JSON.stringify(inst.knobs)}: as compiled ${util(runSync(program, { insnTiming: false }).counters.cycles)}`];
    for (const [what, edit] of Object.entries(EDITS)) {
      const e = edited(program, edit);
      row.push(`${what} (${e.changed} edited) ${util(runSync(e.program, { insnTiming: false }).counters.cycles)}`);
    }
    console.log(row.join('; '));
  }
} catch (e) {
  if (e instanceof VtwError || e instanceof SyntaxError) {
    console.error(`codesign-whatif: ${e.message}`);
    process.exit(1);
  }
  throw e;
}
