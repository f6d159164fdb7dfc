/**
 * The VTA board top (fpga/top): the generated core, the memory controller (SPRAM on UP5K boards,
 * block RAM elsewhere) and the UART host link, built whole with Verilator (PLL bypassed, 4 clocks
 * per UART bit) and driven by the host driver exactly as a board is. Every conformance case must
 * give the reference's outputs and the TypeScript simulator's cycle count; random programs (on a
 * fresh board each, since on-chip SRAM keeps its contents between runs) the simulator's DRAM.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getBoard } from '../fpga/boards/index.ts';
import type { ToolCommand } from '../fpga/flow.ts';
import { boardMemory, checkBoardConfig, vtaBoardTop } from '../fpga/top/index.ts';
import { BoardEngine, compareWithBoard, runOnBoard } from '../fpga/top/run.ts';
import { startSimBoard, type SimBoard } from '../fpga/top/sim.ts';
import { deriveConfig, type Derived } from '../src/config/derive.ts';
import { loadConfig } from '../src/config/load.ts';
import { PRESETS } from '../src/config/presets.ts';
import { VtwError } from '../src/errors.ts';
import { dramSize, serializeProgram, type Program } from '../src/program/container.ts';
import { conformanceCases } from '../src/runtime/conformance.ts';
import { packMatrix } from '../src/runtime/pack.ts';
import { randomProgram } from '../src/runtime/random.ts';
import { KernelSite, Runtime } from '../src/runtime/runtime.ts';
import { verilatorLint } from '../hw/hdl/index.ts';
import { TsEngine } from '../sim/ts/engine.ts';
import { runCli } from './helpers/cli.ts';
import { verilatorTest } from './helpers/tools.ts';

/** ice40-tiny's keys with one burst of each kind in flight (what a board memory controller serves). */
const TINY = {
  TARGET: 'ice40', LOG_BLOCK: 1, LOG_UOP_BUFF_SIZE: 9, LOG_INP_BUFF_SIZE: 8, LOG_WGT_BUFF_SIZE: 8, LOG_ACC_BUFF_SIZE: 10, DSP_BUDGET: 0,
  MEM_OUTSTANDING: 1,
};

/**
 * The board configurations under test, in one place: the hx8k-1x2 preset on its board (its 8 KiB
 * of block RAM; MEM_BUFFER_ALIGN packs the programs below page size) and the up5k-1x2 preset on
 * its (SPRAM, 32-bit bus); an UP5K board with a 64-bit bus; an HX8K board with block RAM, a 64-bit bus (two link
 * words per bus word, partial-beat byte enables) and a beat every 3 cycles (so the channel-free
 * term of the timing model decides when a burst starts). `memBytes`: with page-aligned buffers the
 * conformance programs need up to 25 KiB, more than an HX8K's default 8 KiB.
 */
const BOARDS = {
  preset: {
    board: 'hx8k-breakout',
    config: PRESETS.find((p) => p.name === 'hx8k-1x2')!.json,
    memBytes: undefined as number | undefined,
  },
  /**
   * The up5k-1x2 preset on its board (128 KiB of SPRAM): all 8 SB_MAC16s (GEMM, decode, ALU
   * shifts), no command queues, one read engine, the fetch buffer in block RAM.
   */
  spram: {
    board: 'icebreaker',
    config: PRESETS.find((p) => p.name === 'up5k-1x2')!.json,
    memBytes: undefined as number | undefined,
  },
  /** The SPRAM minima (a write beat held behind a read fetch lands one cycle before its response), 4 SPRAMs side by side. */
  spram64: {
    board: 'icebreaker',
    config: { ...TINY, LOG_BUS_WIDTH: 6, MEM_CYCLES_PER_BEAT: 2, MEM_READ_LATENCY: 3, MEM_WRITE_LATENCY: 2, MEM_BURST_BEATS: 16 },
    memBytes: undefined as number | undefined,
  },
  bram: {
    board: 'hx8k-breakout',
    config: { ...TINY, LOG_BUS_WIDTH: 6, MEM_CYCLES_PER_BEAT: 3, MEM_READ_LATENCY: 2, MEM_WRITE_LATENCY: 1, MEM_BURST_BEATS: 8 },
    memBytes: 32768 as number | undefined,
  },
} as const;
type Kind = keyof typeof BOARDS;
/** Random programs per board (each on a freshly started simulation). */
const RANDOM_PROGRAMS = 8;

const ts = new TsEngine();
const derived = (k: Kind): Derived => deriveConfig(BOARDS[k].config);
const sims: Partial<Record<Kind, SimBoard>> = {};
async function sim(k: Kind): Promise<SimBoard> {
  sims[k] ??= await startSimBoard(derived(k), getBoard(BOARDS[k].board), { memBytes: BOARDS[k].memBytes });
  return sims[k]!;
}
const fresh = (k: Kind) => startSimBoard(derived(k), getBoard(BOARDS[k].board), { memBytes: BOARDS[k].memBytes });

test.after(async () => {
  for (const s of Object.values(sims)) await s?.close();
});

/** One line from a VtwError thrown by fn. */
function errorLine(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.instance(e, VtwError);
    const msg = (e as Error).message;
    assert.not.ok(msg.includes('\n'), msg);
    return msg;
  }
  assert.unreachable('no error');
  return '';
}

test('configuration checks: MEM_OUTSTANDING 2, SPRAM timing limits, DSPs on an HX part, memory sizes; one line each', () => {
  const ib = getBoard('icebreaker');
  const hx = getBoard('hx8k-breakout');
  const two = errorLine(() => checkBoardConfig(deriveConfig({ ...BOARDS.spram.config, MEM_OUTSTANDING: 2 }), ib));
  assert.match(two, /MEM_OUTSTANDING is 2/);
  assert.match(two, /"MEM_OUTSTANDING": 1/);
  assert.match(errorLine(() => checkBoardConfig(deriveConfig({ ...BOARDS.spram.config, MEM_CYCLES_PER_BEAT: 1 }), ib)), /MEM_CYCLES_PER_BEAT is 1 .*>= 2/);
  assert.match(errorLine(() => checkBoardConfig(deriveConfig({ ...BOARDS.spram.config, MEM_READ_LATENCY: 2 }), ib)), /MEM_READ_LATENCY is 2 .*>= 3/);
  assert.match(errorLine(() => checkBoardConfig(deriveConfig({ ...BOARDS.spram.config, MEM_WRITE_LATENCY: 1 }), ib)), /MEM_WRITE_LATENCY is 1 .*>= 2/);
  assert.match(errorLine(() => checkBoardConfig(deriveConfig({ ...BOARDS.bram.config, MEM_READ_LATENCY: 1 }), hx)), /MEM_READ_LATENCY is 1 .*>= 2/);
  assert.match(errorLine(() => checkBoardConfig(deriveConfig({ ...BOARDS.bram.config, DSP_BUDGET: 2 }), hx)), /DSP_BUDGET is 2 .*no DSP blocks/);
  assert.match(errorLine(() => checkBoardConfig(deriveConfig({ ...BOARDS.spram.config, LOG_BUS_WIDTH: 7 }), ib)), /128-bit memory bus needs 8 SB_SPRAM256KA/);
  // Default sizes: all four SPRAMs on an UP5K (2 banks of 2 for 32 bits, 1 of 4 for 64), half the block RAM on an HX8K.
  assert.equal(boardMemory(derived('spram'), ib).memBytes, 131072);
  assert.is(boardMemory(derived('spram'), ib).blocks, 4);
  assert.is(boardMemory(deriveConfig({ ...BOARDS.spram.config, LOG_BUS_WIDTH: 6 }), ib).description, '4 x SB_SPRAM256KA (1 bank of 4), 131072 bytes');
  assert.is(boardMemory(derived('bram'), hx).memBytes, 8192);
  // ... but no bank past what the core addresses (2^MEM_ADDR_BITS bytes), at least one bank
  assert.is(boardMemory(deriveConfig({ ...BOARDS.spram.config, MEM_ADDR_BITS: 16 }), ib).description, '2 x SB_SPRAM256KA (1 bank of 2), 65536 bytes');
  assert.is(boardMemory(deriveConfig({ ...BOARDS.spram.config, MEM_ADDR_BITS: 13 }), ib).memBytes, 65536);
  assert.is(boardMemory(deriveConfig({ ...BOARDS.spram.config, MEM_ADDR_BITS: 13, LOG_BUS_WIDTH: 6 }), ib).memBytes, 131072);
  assert.is(boardMemory(deriveConfig({ ...BOARDS.spram.config, MEM_ADDR_BITS: 13 }), ib, 131072).blocks, 4);
  assert.is(boardMemory(derived('bram'), getBoard('icestick')).memBytes, 4096);
  assert.match(errorLine(() => boardMemory(derived('bram'), hx, 5000)), /power of two or a multiple of 4096 bytes/); // 64-bit bus: 8 lanes
  // between powers of two: whole EBRs per byte lane (6 KiB on a 32-bit bus: 3 per lane); simulations may take more than the part has
  const pre = deriveConfig(BOARDS.preset.config);
  assert.equal([boardMemory(pre, hx, 6144).memBytes, boardMemory(pre, hx, 6144).blocks], [6144, 12]);
  assert.match(errorLine(() => boardMemory(pre, hx, 7168)), /multiple of 2048 bytes \(one block RAM per byte lane\), at least 4096$/);
  assert.match(errorLine(() => boardMemory(derived('spram'), ib, 16384)), /SPRAM banks of 65536 bytes/);
  // the config's BOARD_MEM_BYTES sizes it (hx8k-1x4: 6 KiB, so that the core keeps 20 EBR); an explicit size still wins
  assert.equal([boardMemory(loadConfig('hx8k-1x4'), hx).memBytes, boardMemory(loadConfig('hx8k-1x4'), hx).blocks], [6144, 12]);
  assert.is(boardMemory(loadConfig('hx8k-1x4'), hx, 8192).memBytes, 8192);
  assert.is(boardMemory(deriveConfig({ ...BOARDS.spram.config, BOARD_MEM_BYTES: 65536 }), ib).blocks, 2);
  assert.match(errorLine(() => boardMemory(deriveConfig({ ...BOARDS.bram.config, BOARD_MEM_BYTES: 7168 }), hx)), /^board memory of 7168 bytes \(the config's BOARD_MEM_BYTES\): give a power of two or a multiple of 4096 bytes/);
});

verilatorTest('the board top lints clean under verilator -Wall (SPRAM and block RAM, 32- and 64-bit bus, 6 KiB of block RAM)', async () => {
  for (const [board, cfg] of [
    ['icebreaker', BOARDS.spram.config], ['icebreaker', { ...BOARDS.spram.config, LOG_BUS_WIDTH: 6 }],
    ['hx8k-breakout', BOARDS.bram.config], ['hx8k-breakout', { ...BOARDS.bram.config, LOG_BUS_WIDTH: 5 }],
  ] as const) {
    const des = await vtaBoardTop(deriveConfig(cfg), getBoard(board), { noPll: true, clksPerBit: 4, timeoutCycles: 400 });
    const r = await verilatorLint(des.files, des.top, des.libraries);
    assert.ok(r.ok, `${board} ${JSON.stringify(cfg)}:\n${r.messages.join('\n')}`);
  }
  // block RAM between powers of two: 1 536 words behind an 11-bit address
  const six = await vtaBoardTop(deriveConfig(BOARDS.preset.config), getBoard('hx8k-breakout'), { noPll: true, clksPerBit: 4, timeoutCycles: 400, memBytes: 6144 });
  const r6 = await verilatorLint(six.files, six.top, six.libraries);
  assert.ok(r6.ok, `hx8k-1x2 with 6 KiB:\n${r6.messages.join('\n')}`);
});

test('clock: a PLL when CLOCK_MHZ differs from the board clock (PAD PLL on iCEBreaker), UART divider from the achieved clock', async () => {
  const d = deriveConfig({ ...BOARDS.spram.config, CLOCK_MHZ: 24 }); // iCEBreaker has 12 MHz on the PLL pad
  const calls: string[][] = [];
  const icepll: ToolCommand = (args, _files, o) => {
    calls.push(args);
    o.stdout(new TextEncoder().encode('F_PLLIN:    12.000 MHz (given)\nF_PLLOUT:   24.000 MHz (requested)\nF_PLLOUT:   24.000 MHz (achieved)\nDIVR:  0 (4\'b0000)\nDIVF: 63 (7\'b0111111)\nDIVQ:  5 (3\'b101)\nFILTER_RANGE: 1 (3\'b001)\n'));
    return undefined;
  };
  const des = await vtaBoardTop(d, getBoard('icebreaker'), { icepll });
  assert.equal(calls, [['-i', '12', '-o', '24']]);
  assert.is(des.clockMhz, 24);
  assert.is(des.clksPerBit, Math.round(24e6 / 115200));
  const top = des.files[`${des.top}.v`];
  assert.match(top, /SB_PLL40_PAD/);
  assert.match(top, /\.DIVF\(7'd63\)/);
  assert.is(des.memWords, 131072 / 4);
  // Same clock as the board: no PLL.
  const same = await vtaBoardTop(deriveConfig({ ...BOARDS.bram.config, CLOCK_MHZ: 12 }), getBoard('hx8k-breakout'), { icepll });
  assert.is(same.pll, null);
  assert.not.match(same.files[`${same.top}.v`], /SB_PLL40/);
  assert.is(calls.length, 1);
});

for (const k of Object.keys(BOARDS) as Kind[]) {
  verilatorTest(`${BOARDS[k].board} (${k}): every conformance case on the simulated board top gives the reference outputs and the TS simulator's cycles`, async () => {
    const d = derived(k);
    const s = await sim(k);
    const engine = new BoardEngine(s.host, { boardName: BOARDS[k].board });
    const failures: string[] = [];
    let passed = 0;
    for (const c of conformanceCases(d)) {
      const built = c.build(d, 1);
      const r = await engine.run(built.program);
      const ref = await ts.run(built.program);
      const check = built.check(r);
      const diff = compareWithBoard(built.program, ref, r);
      if (check.ok && !diff.length && r.counters.cycles === ref.counters.cycles) passed++;
      else failures.push(`${c.name}: ${check.message}; ${diff.map((x) => `${x.what}: ${x.detail}`).join('; ')}`);
    }
    assert.equal(failures, []);
    assert.is(passed, conformanceCases(d).length);
    assert.equal(s.host.retried, {});
  });

  verilatorTest(`${BOARDS[k].board} (${k}): random programs give the TS simulator's DRAM and cycles (fresh board each)`, async () => {
    const d = derived(k);
    const failures: string[] = [];
    for (let seed = 1; seed <= RANDOM_PROGRAMS; seed++) {
      const p = randomProgram(d, seed).program;
      const b = await fresh(k);
      try {
        const r = await runOnBoard(b.host, p, { transfer: 'buffers' });
        const diff = compareWithBoard(p, await ts.run(p), r, 'buffers');
        if (r.error || diff.length) failures.push(`random#${seed}: ${r.error?.message ?? ''} ${diff.map((x) => `${x.what}: ${x.detail}`).join('; ')}`);
      } finally {
        await b.close();
      }
    }
    assert.equal(failures, []);
  });
}

/**
 * A program placed above `pad` bytes of DRAM: an int32 matrix loaded into ACC, copied to OUT by ALU
 * SHR 0 and stored (to reach the second SPRAM bank).
 */
function programAbove(d: Derived, pad: number): Program {
  const rt = new Runtime(d);
  rt.alloc('pad', pad, { role: 'scratch' });
  const n = 4;
  const a = Array.from({ length: n * d.batch }, (_, i) => Array.from({ length: n * d.blockOut }, (_, j) => (i * 7919 + j * 104729) % 4001 - 2000));
  const aBuf = rt.allocTiles('a', 'ACC', n * n, { role: 'input', data: packMatrix(d, 'ACC', a) });
  const out = rt.allocTiles('res', 'OUT', n * n, { role: 'output' });
  rt.loadBuffer2D(aBuf, 0, n, n, n, 0, 0, 0, 0, 0, 'ACC');
  rt.pushAluOp(new KernelSite('copy'), (r) => {
    r.uopLoopBegin(n, n, n, 0);
    r.uopLoopBegin(n, 1, 1, 0);
    r.uopPush('ALU', 0, 0, 0, 0, 'SHR', true, 0);
    r.uopLoopEnd();
    r.uopLoopEnd();
  });
  rt.depPush(2, 3);
  rt.depPop(2, 3);
  rt.storeBuffer2D(0, 'OUT', out, 0, n, n, n);
  return rt.synchronize();
}

verilatorTest('SPRAM bank 1 (past 64 KiB): link round trips and a program placed there', async () => {
  const s = await sim('spram');
  const words = new Uint8Array(64).map((_, i) => (i * 37 + 5) & 0xff);
  await s.host.writeWords(0x1f000, words);
  await s.host.writeWords(0x0f000, new Uint8Array(64).fill(0x5a));
  assert.equal([...(await s.host.readWords(0x1f000, 16))], [...words]);
  assert.equal([...(await s.host.readWords(0x0f000, 16))], new Array(64).fill(0x5a));
  const d = derived('spram');
  const p = programAbove(d, 0x10000);
  assert.ok(p.buffers.every((b) => b.name === 'pad' || b.addr >= 0x10000), 'every buffer but the pad in SPRAM bank 1');
  const r = await runOnBoard(s.host, p);
  const ref = await ts.run(p);
  assert.equal(compareWithBoard(p, ref, r), []);
  assert.is(r.counters.cycles, ref.counters.cycles);
  const res = p.buffers.find((b) => b.name === 'res')!;
  assert.ok(r.dram.subarray(res.addr, res.addr + res.size).some((x) => x !== 0));
});

verilatorTest('block RAM between powers of two (hx8k-1x2 with 6 KiB, 3 EBR per lane): its last words, the range check at its end, a program', async () => {
  const d = deriveConfig(BOARDS.preset.config);
  const s = await startSimBoard(d, getBoard('hx8k-breakout'), { memBytes: 6144 });
  try {
    const words = new Uint8Array(64).map((_, i) => (i * 53 + 11) & 0xff);
    await s.host.writeWords(6144 - 64, words);
    assert.equal([...(await s.host.readWords(6144 - 64, 16))], [...words]);
    assert.ok(await s.host.writeWords(6144 - 4, new Uint8Array(8)).then(() => false, () => true), 'a write past 6 KiB is refused');
    assert.equal([...(await s.host.readWords(6144 - 64, 16))], [...words]);
    const c = conformanceCases(d)[0].build(d, 1);
    const r = await runOnBoard(s.host, c.program);
    assert.ok(c.check(r).ok);
    assert.is(r.counters.cycles, (await ts.run(c.program)).counters.cycles);
  } finally {
    await s.close();
  }
});

/** A conformance program with an extra scratch buffer at `addr` (to make it larger). */
function withScratchAt(p: Program, addr: number): Program {
  return { ...p, buffers: [...p.buffers, { name: 'big', kind: 'data', role: 'scratch', addr, size: 4096 }] };
}

verilatorTest('a program larger than the board memory, or built for another configuration, is refused with one clear line', async () => {
  const s = await sim('bram');
  const d = derived('bram');
  const p = conformanceCases(d)[0].build(d, 1).program;
  const big = await runOnBoard(s.host, withScratchAt(p, 65536)).catch((e) => e);
  assert.instance(big, VtwError);
  assert.is(big.message, 'the program needs 69632 bytes of DRAM (its last buffer ends at 0x00011000) but the board has 32768 bytes of on-chip memory; use smaller buffers or a board top with more memory');
  const other = deriveConfig({ ...BOARDS.bram.config, MEM_READ_LATENCY: 5 });
  const q = conformanceCases(other)[0].build(other, 1).program;
  const wrong = await runOnBoard(s.host, q, { boardName: 'hx8k-breakout' }).catch((e) => e);
  assert.instance(wrong, VtwError);
  assert.match(wrong.message, /^hx8k-breakout runs another VTA configuration: its config_id is 0x[0-9a-f]{8}, the program's .* has 0x[0-9a-f]{8}; synthesize and flash/);
  // The board still works afterwards.
  assert.ok(conformanceCases(d)[0].build(d, 1).check(await runOnBoard(s.host, p)).ok);
});

verilatorTest('vtw run --sim prints what vtw sim prints (same cycles and output digests); refusals are one line', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'vtw-run-'));
  const d = derived('spram');
  const prog = join(tmp, 'gemm.json');
  writeFileSync(prog, serializeProgram(conformanceCases(d).find((c) => c.name === 'gemm_test.compressed')!.build(d, 1).program));
  const r = await runCli('run', prog, '--board', 'icebreaker', '--sim', '--json');
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  const ref = JSON.parse((await runCli('sim', prog, '--json')).stdout);
  assert.is(j.engine, 'board');
  assert.is(j.cycles, ref.cycles);
  assert.equal(j.outputs, ref.outputs);
  assert.equal(j.bytes, ref.bytes);
  assert.is(j.board.board, 'icebreaker');
  assert.is(j.board.memBytes, 131072);
  const text = await runCli('run', prog, '--board', 'icebreaker', '--sim');
  assert.is(text.code, 0);
  assert.match(text.stdout, new RegExp(`cycles ${ref.cycles}, GEMM utilization`));
  assert.match(text.stdout, /output out: sha256 [0-9a-f]{16}/);

  const one = (x: { code: number; stderr: string }, re: RegExp) => {
    assert.is.not(x.code, 0);
    assert.is(x.stderr.trim().split('\n').length, 1, x.stderr);
    assert.match(x.stderr, re);
  };
  one(await runCli('run', prog, '--board', 'icebreaker', '--port', '/dev/vtw-no-such-port'), /^vtw: error: serial port \/dev\/vtw-no-such-port does not exist/);
  one(await runCli('run', prog, '--board', 'icebreaker'), /give --port DEVICE .* or --sim/);
  // a page-aligned program for the block-RAM config is larger than an HX8K's 8 KiB
  const db = derived('bram');
  const big = conformanceCases(db).find((c) => c.name === 'gemm_test.compressed')!.build(db, 1).program;
  const bigFile = join(tmp, 'big.json');
  writeFileSync(bigFile, serializeProgram(big));
  const need = dramSize(big);
  assert.ok(need > 8192);
  one(await runCli('run', bigFile, '--board', 'hx8k-breakout', '--sim'), new RegExp(`needs ${need} bytes of DRAM but the hx8k-breakout board top has 8192 bytes .*--mem-bytes ${2 ** Math.ceil(Math.log2(need))}`));
  one(await runCli('run', prog, '--board', 'hx8k-breakout', '--sim'), /DSP_BUDGET is 8 but the iCE40HX8K of hx8k-breakout has no DSP blocks/);
  const d2 = deriveConfig({ ...BOARDS.spram.config, MEM_OUTSTANDING: 2 });
  const prog2 = join(tmp, 'outs2.json');
  writeFileSync(prog2, serializeProgram(conformanceCases(d2)[0].build(d2, 1).program));
  one(await runCli('run', prog2, '--board', 'icebreaker', '--sim'), /MEM_OUTSTANDING is 2: .*"MEM_OUTSTANDING": 1/);
  rmSync(tmp, { recursive: true, force: true });
});

test.run();
