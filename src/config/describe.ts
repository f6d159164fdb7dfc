/** The JSON and text views of a configuration used by `vtw config show` and reports. */
import { BUFFER_NAMES, type Derived } from './derive.ts';
import type { StructLayout } from '../isa/layout.ts';
import { bytes, table } from '../report/table.ts';

function fieldsJson(s: StructLayout) {
  return s.fields.map((f) => ({ name: f.name, lsb: f.lsb, msb: f.lsb + f.width - 1, width: f.width, ...(f.signed ? { signed: true } : {}) }));
}

export function configJson(d: Derived) {
  return {
    name: d.name,
    model: d.model,
    variant: d.variant,
    keys: d.keys,
    derived: {
      inpWidth: d.inpWidth,
      wgtWidth: d.wgtWidth,
      accWidth: d.accWidth,
      outWidth: d.outWidth,
      batch: d.batch,
      blockIn: d.blockIn,
      blockOut: d.blockOut,
      logOutBuffSize: d.logOutBuffSize,
      insnBytes: d.insnBytes,
      uopBytes: d.uopBytes,
      matrixBits: d.matrixBits,
      elemBytes: d.elemBytes,
      buffBytes: d.buffBytes,
      depth: d.depth,
      logDepth: d.logDepth,
      busWidth: d.busWidth,
      busBytes: d.busBytes,
      beatsPerElem: d.beatsPerElem,
      macsPerUop: d.macsPerUop,
      multipliers: d.multipliers,
      gemmII: d.gemmII,
      aluII: d.aluII,
      aluMul: d.aluMul,
      aluRequant: d.aluRequant,
      gemmRequant: d.gemmRequant,
      clockMhz: d.clockMhz,
      peakGops: peakGops(d),
      dspBudget: d.dspBudget,
      board: d.board,
      mem: d.mem,
    },
    layout: {
      mem: fieldsJson(d.layout.mem),
      gemm: fieldsJson(d.layout.gemm),
      alu: fieldsJson(d.layout.alu),
      uop: fieldsJson(d.layout.uop),
    },
  };
}

/** Peak GEMM throughput: 2 ops per MAC, MACs per cycle = multipliers. */
export function peakGops(d: Derived): number {
  return +((2 * d.multipliers * d.clockMhz) / 1000).toFixed(2);
}

function layoutTable(title: string, s: StructLayout): string {
  const rows = s.fields.map((f) => [`[${f.lsb + f.width - 1}:${f.lsb}]`, f.name, f.width, f.signed ? 'signed' : '']);
  return `${title} (${s.usedBits} of ${s.totalBits} bits used)\n${table(['bits', 'field', 'width', ''], rows)}`;
}

export function configText(d: Derived): string {
  const bufRows = BUFFER_NAMES.map((b) => [
    b.toUpperCase(), d.matrixBits[b], d.elemBytes[b], d.depth[b], d.logDepth[b], bytes(d.buffBytes[b]), +d.beatsPerElem[b].toFixed(3),
  ]);
  const head = [
    `config   ${d.variant}   (model ${d.model})`,
    `GEMM     ${d.batch} x ${d.blockIn} x ${d.blockOut}: ${d.macsPerUop} MACs per micro-op, ${d.multipliers} multipliers, II ${d.gemmII}`,
    `types    inp int${d.inpWidth}, wgt int${d.wgtWidth}, acc int${d.accWidth}, out int${d.outWidth}`,
    `clock    ${d.clockMhz} MHz, peak ${peakGops(d)} GOPS; bus ${d.busWidth} bits; ALU MUL ${d.aluMul ? 'on' : 'off'}; ALU RQ ${d.aluRequant ? 'on' : 'off'}${d.gemmRequant ? ', GEMM requant on' : ''}${d.aluII > 1 ? `; ALU ${(d.batch * d.blockOut) / d.aluII} lanes, II ${d.aluII}` : ''}; DSP budget ${d.dspBudget ?? 'unlimited'}`,
    `memory   read latency ${d.mem.readLatency}, write latency ${d.mem.writeLatency}, ${d.mem.cyclesPerBeat} cycle/beat, bursts of ${d.mem.burstBeats} beats, ${d.mem.outstanding} outstanding`,
  ];
  return [
    head.join('\n'),
    table(['buffer', 'elem bits', 'elem B', 'depth', 'log2', 'size', 'beats/elem'], bufRows),
    layoutTable('LOAD / STORE', d.layout.mem),
    layoutTable('GEMM / FINISH', d.layout.gemm),
    layoutTable('ALU', d.layout.alu),
    layoutTable('micro-op', d.layout.uop),
  ].join('\n\n');
}
