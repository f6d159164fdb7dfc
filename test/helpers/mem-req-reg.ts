/**
 * MEM_REQ_REG (docs/microarch.md §21): the configurations its co-simulation tests cover and directed
 * programs that make the memory clients compete: STORE, LOAD ACC, LOAD INP and fetch requesting at
 * once, transfers of several one-beat rows (a client's bursts two cycles apart) and strided rows
 * (the DMA engines' burst arithmetic from their registers, §21).
 */
import { readFileSync } from 'node:fs';
import { loadConfig } from '../../src/config/index.ts';
import { assemble } from '../../src/program/index.ts';
import type { Program } from '../../src/program/container.ts';

/** The UP5K 1x4 with every timing cut of issue 17 and the key (the configuration docs/fpga.md measures). */
export const UP5K_1X4_MRR = 'docs/results/up5k-1x4/1x4-c-aluii4-serdec-rdr-crr-tpr-mrr.json';
/** The same without the key. */
export const UP5K_1X4_CUTS = 'docs/results/up5k-1x4/1x4-c-aluii4-serdec-rdr-crr-tpr.json';

/** Directed programs (label, program) for a configuration given as text (its keys). */
export function competingPrograms(config: string): Array<[string, Program]> {
  const uops = Array.from({ length: 24 }, (_, i) => `    uop dst_idx=${i % 4} src_idx=${i % 3} wgt_idx=0`).join('\n');
  const text = (body: string) => `.buffer uops kind=uop\n${uops}\n.buffer inp kind=data role=input size=256\n.buffer acc kind=data role=input size=512\n.buffer out kind=data role=output size=256\n.text\n${body}\n  FINISH\n`;
  const progs: Array<[string, string]> = [
    ['store, LOAD ACC and LOAD INP at once, one-beat rows', [
      '  STORE OUT sram_base=0 dram_base=@out y_size=3 x_size=1 x_stride=2',
      '  LOAD UOP sram_base=0 dram_base=@uops y_size=1 x_size=2 x_stride=2',
      '  LOAD ACC sram_base=0 dram_base=@acc y_size=2 x_size=1 x_stride=16',
      '  LOAD INP sram_base=0 dram_base=@inp y_size=4 x_size=1 x_stride=3',
      '  LOAD ACC sram_base=4 dram_base=@acc y_size=3 x_size=2 x_stride=5',
      '  STORE OUT sram_base=1 dram_base=@out y_size=2 x_size=2 x_stride=3',
    ].join('\n')],
    ['strided and padded rows back to back', [
      '  LOAD INP sram_base=0 dram_base=@inp y_size=3 x_size=2 x_stride=5 y_pad_0=1 x_pad_1=1',
      '  LOAD INP sram_base=20 dram_base=@inp y_size=2 x_size=3 x_stride=3',
      '  LOAD UOP sram_base=0 dram_base=@uops y_size=1 x_size=3 x_stride=3',
      '  LOAD ACC sram_base=0 dram_base=@acc y_size=4 x_size=1 x_stride=3',
      '  STORE OUT sram_base=0 dram_base=@out y_size=4 x_size=1 x_stride=4',
    ].join('\n')],
  ];
  return progs.map(([label, body]) => [label, assemble(text(body), `<${label}>`, config)]);
}

/** The slow tier's configurations (label, config text). */
export const MRR_SLOW_CONFIGS: ReadonlyArray<readonly [string, string]> = [
  ['1x4-c-aluii4-serdec-rdr-crr-tpr-mrr (the measured UP5K 1x4 with every cut: one read engine, no command queues, MEM_OUTSTANDING 1)', readFileSync(UP5K_1X4_MRR, 'utf8')],
  ['1x4, two read engines, command queues of 16, MEM_OUTSTANDING 4, READ_DONE_REG', JSON.stringify({
    TARGET: 'sim', LOG_BLOCK: 2, LOG_UOP_BUFF_SIZE: 10, LOG_INP_BUFF_SIZE: 9, LOG_WGT_BUFF_SIZE: 10, LOG_ACC_BUFF_SIZE: 12,
    ALU_REQUANT: true, READ_DONE_REG: true, MEM_REQ_REG: true,
  })],
  ['up5k-1x2 with COMPUTE_READ_REG (no command queues, 2 cycles per beat), 32-bit DRAM addresses', JSON.stringify({
    ...JSON.parse(readFileSync('docs/results/timing/up5k-1x2-crr.json', 'utf8')), MEM_ADDR_BITS: 32, BOARD: null, MEM_REQ_REG: true,
  })],
];

/** The keys of a configuration as text, with MEM_REQ_REG set to `on`. */
export function withKey(config: string, on: boolean): string {
  return JSON.stringify({ ...loadConfig(config).keys, MEM_REQ_REG: on });
}
