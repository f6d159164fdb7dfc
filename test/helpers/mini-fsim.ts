/**
 * A deliberately small functional executor used only by the runtime tests, so that the runtime,
 * the conformance cases and the random generator can be checked independently of the real
 * simulator (sim/ts). It follows vta-reference Part B §2 and Part A (separate OUT buffer,
 * SHR semantics, padding, token queues) and reports deadlocks and illegal instructions. It knows
 * nothing of timing.
 */
import type { Engine, RunResult } from '../../src/engine/index.ts';
import { dramImage, programInsns, insnBuffer, type Program } from '../../src/program/container.ts';
import { decodeUopWord, type AluInsn, type GemmInsn, type Insn, type MemInsn } from '../../src/isa/insn.ts';
import { decodeLanes, encodeLanes } from '../../src/runtime/pack.ts';
import { aluOp, aluImm, wrapSigned } from '../../src/runtime/reference.ts';
import { aluOpUnavailable } from '../../src/isa/alu.ts';

type Mod = 'load' | 'compute' | 'store';

function moduleOf(i: Insn): Mod {
  if (i.opcode === 'STORE') return 'store';
  if (i.opcode === 'LOAD' && (i.memory_type === 'INP' || i.memory_type === 'WGT')) return 'load';
  return 'compute';
}

export class MiniFsim implements Engine {
  readonly name = 'ts' as const;
  async run(p: Program): Promise<RunResult> {
    return runMini(p);
  }
}

export function runMini(p: Program): RunResult {
  const d = p.config;
  const dram = dramImage(p);
  const insns = programInsns(p);
  void insnBuffer(p);
  const lanes = { inp: d.batch * d.blockIn, wgt: d.blockOut * d.blockIn, acc: d.batch * d.blockOut };
  const inp: number[][] = Array.from({ length: d.depth.inp }, () => new Array(lanes.inp).fill(0));
  const wgt: number[][] = Array.from({ length: d.depth.wgt }, () => new Array(lanes.wgt).fill(0));
  const acc: number[][] = Array.from({ length: d.depth.acc }, () => new Array(lanes.acc).fill(0));
  const out: number[][] = Array.from({ length: d.depth.acc }, () => new Array(lanes.acc).fill(0));
  const uop: number[] = new Array(d.depth.uop).fill(0);
  const q = { l2g: 0, g2l: 0, g2s: 0, s2g: 0 };
  const queues: Record<Mod, Array<{ i: Insn; idx: number }>> = { load: [], compute: [], store: [] };
  insns.forEach((i, idx) => queues[moduleOf(i)].push({ i, idx }));
  const counters = { gemm: 0, alu: 0 };
  const fail = (kind: 'illegal' | 'deadlock', message: string, insnIndex?: number): RunResult => ({
    engine: 'ts', dram, error: { kind, message, insnIndex }, counters: emptyCounters(),
  });

  const popQ = (m: Mod, i: Insn): [keyof typeof q | undefined, keyof typeof q | undefined] => {
    if (m === 'load') return [undefined, i.pop_next_dep ? 'g2l' : undefined];
    if (m === 'store') return [i.pop_prev_dep ? 'g2s' : undefined, undefined];
    return [i.pop_prev_dep ? 'l2g' : undefined, i.pop_next_dep ? 's2g' : undefined];
  };
  const ebytes = (t: string) => d.elemBytes[t.toLowerCase() as 'inp'];
  const check = (cond: boolean, idx: number, msg: string) => {
    if (!cond) throw Object.assign(new Error(msg), { idx });
  };

  const execMem = (i: MemInsn, idx: number) => {
    if (i.x_size === 0) return;
    if (i.opcode === 'STORE') {
      check(i.memory_type === 'OUT', idx, 'store from non-OUT');
      const eb = d.elemBytes.out;
      for (let y = 0; y < i.y_size; y++) {
        for (let x = 0; x < i.x_size; x++) {
          const s = i.sram_base + y * i.x_size + x;
          check(s < d.depth.out, idx, 'store sram out of range');
          const addr = (i.dram_base + y * i.x_stride + x) * eb;
          check(addr + eb <= dram.length, idx, 'store dram out of range');
          dram.set(encodeLanes(out[s], d.outWidth), addr);
        }
      }
      return;
    }
    if (i.memory_type === 'UOP') {
      for (let x = 0; x < i.x_size; x++) {
        const a = (i.dram_base + x) * 4;
        check(i.sram_base + x < d.depth.uop && a + 4 <= dram.length, idx, 'uop load out of range');
        uop[i.sram_base + x] = new DataView(dram.buffer).getUint32(a, true);
      }
      return;
    }
    const mem = i.memory_type === 'INP' ? inp : i.memory_type === 'WGT' ? wgt : acc;
    const n = i.memory_type === 'INP' ? lanes.inp : i.memory_type === 'WGT' ? lanes.wgt : lanes.acc;
    const width = i.memory_type === 'INP' ? d.inpWidth : i.memory_type === 'WGT' ? d.wgtWidth : d.accWidth;
    const eb = ebytes(i.memory_type);
    const W = i.x_pad_0 + i.x_size + i.x_pad_1;
    let s = i.sram_base;
    const put = (v: number[] | null) => {
      check(s < mem.length, idx, `${i.memory_type} sram index ${s} out of range`);
      mem[s++] = v ?? new Array(n).fill(0);
    };
    for (let k = 0; k < W * i.y_pad_0; k++) put(null);
    for (let y = 0; y < i.y_size; y++) {
      for (let k = 0; k < i.x_pad_0; k++) put(null);
      for (let x = 0; x < i.x_size; x++) {
        const a = (i.dram_base + y * i.x_stride + x) * eb;
        check(a + eb <= dram.length, idx, 'load dram out of range');
        put(decodeLanes(dram.subarray(a, a + eb), width, n));
      }
      for (let k = 0; k < i.x_pad_1; k++) put(null);
    }
    for (let k = 0; k < W * i.y_pad_1; k++) put(null);
  };

  const execLoop = (i: GemmInsn | AluInsn, idx: number) => {
    for (let o = 0; o < i.iter_out; o++) {
      for (let n = 0; n < i.iter_in; n++) {
        for (let u = i.uop_bgn; u < i.uop_end; u++) {
          const op = decodeUopWord(d, uop[u]);
          const dst = op.dst_idx + o * i.dst_factor_out + n * i.dst_factor_in;
          const src = op.src_idx + o * i.src_factor_out + n * i.src_factor_in;
          check(dst < d.depth.acc, idx, `acc index ${dst} out of range`);
          if (i.opcode === 'GEMM') {
            const w = op.wgt_idx + o * i.wgt_factor_out + n * i.wgt_factor_in;
            if (i.reset_reg) {
              acc[dst] = new Array(lanes.acc).fill(0);
              continue;
            }
            check(src < d.depth.inp && w < d.depth.wgt, idx, `gemm index out of range src ${src} wgt ${w}`);
            counters.gemm++;
            const r = acc[dst].slice();
            for (let b = 0; b < d.batch; b++) {
              for (let oc = 0; oc < d.blockOut; oc++) {
                let sum = r[b * d.blockOut + oc];
                for (let k = 0; k < d.blockIn; k++) sum += inp[src][b * d.blockIn + k] * wgt[w][oc * d.blockIn + k];
                r[b * d.blockOut + oc] = wrapSigned(sum, d.accWidth);
              }
            }
            acc[dst] = r;
            out[dst] = r.map((v) => wrapSigned(v, d.outWidth));
          } else {
            const al = i as AluInsn;
            check(!aluOpUnavailable(al.alu_opcode, d), idx, `${al.alu_opcode} without its configuration switch`);
            if (!al.use_imm) check(src < d.depth.acc, idx, `alu src ${src} out of range`);
            counters.alu++;
            const r = acc[dst].map((a, l) => aluOp(al.alu_opcode, a, al.use_imm ? aluImm(al.imm, d.accWidth) : acc[src][l], d.accWidth));
            acc[dst] = r;
            out[dst] = r.map((v) => wrapSigned(v, d.outWidth));
          }
        }
      }
    }
  };

  const head: Record<Mod, number> = { load: 0, compute: 0, store: 0 };
  let finished = false;
  try {
    while (!finished) {
      let progressed = false;
      for (const m of ['load', 'compute', 'store'] as Mod[]) {
        while (head[m] < queues[m].length) {
          const { i, idx } = queues[m][head[m]];
          if (m === 'load') check(!i.pop_prev_dep && !i.push_prev_dep, idx, 'load uses prev flags');
          if (m === 'store') check(!i.pop_next_dep && !i.push_next_dep, idx, 'store uses next flags');
          const [a, b] = popQ(m, i);
          if ((a && q[a] === 0) || (b && q[b] === 0)) break;
          if (a) q[a]--;
          if (b) q[b]--;
          if (i.opcode === 'LOAD' || i.opcode === 'STORE') execMem(i, idx);
          else if (i.opcode === 'GEMM' || i.opcode === 'ALU') execLoop(i, idx);
          if (m === 'load' && i.push_next_dep) q.l2g++;
          if (m === 'compute' && i.push_prev_dep) q.g2l++;
          if (m === 'compute' && i.push_next_dep) q.g2s++;
          if (m === 'store' && i.push_prev_dep) q.s2g++;
          head[m]++;
          progressed = true;
          if (i.opcode === 'FINISH') {
            finished = true;
            break;
          }
        }
        if (finished) break;
      }
      if (!finished && !progressed) {
        return fail('deadlock', `deadlock: heads load ${head.load}/${queues.load.length} compute ${head.compute}/${queues.compute.length} store ${head.store}/${queues.store.length}, tokens ${JSON.stringify(q)}`);
      }
    }
  } catch (e) {
    return fail('illegal', (e as Error).message, (e as { idx?: number }).idx);
  }
  const leftover = Object.entries(q).filter(([, v]) => v !== 0);
  const pending = (['load', 'store'] as Mod[]).filter((m) => head[m] < queues[m].length);
  if (leftover.length || pending.length) {
    return fail('deadlock', `FINISH with tokens ${JSON.stringify(q)} and unexecuted ${pending.join(', ')}`);
  }
  const c = emptyCounters();
  c.gemm_uops = counters.gemm;
  c.alu_uops = counters.alu;
  return { engine: 'ts', dram, counters: c };
}

function emptyCounters(): RunResult['counters'] {
  const m = { busy: 0, waitToken: 0, waitMemory: 0, queueFull: 0, idle: 0 };
  return {
    cycles: 0, gemm_uops: 0, alu_uops: 0, utilization: 0,
    bytes: { insn: 0, uop: 0, wgt: 0, inp: 0, acc: 0, out: 0 },
    modules: { fetch: { ...m }, load: { ...m }, compute: { ...m }, store: { ...m } },
    fsim: { inp_load_nbytes: 0, wgt_load_nbytes: 0, acc_load_nbytes: 0, uop_load_nbytes: 0, out_store_nbytes: 0, gemm_counter: 0, alu_counter: 0 },
  };
}
