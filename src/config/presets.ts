/**
 * Named configurations. Each is a VTA JSON object (plus extensions) exactly as a user would write it
 * in a file; `vtw config list` shows them with their canonical VTA names.
 */
export interface Preset {
  name: string;
  description: string;
  json: Record<string, unknown>;
}

export const PRESETS: readonly Preset[] = [
  { name: 'default', description: "VTA's default (vta_config.json, TARGET sim)", json: { TARGET: 'sim' } },
  {
    name: 'default-codesign',
    description: "VTA's default shape with ALU_REQUANT and GEMM_REQUANT: each requantization is one fused ALU micro-op, or none where a tile's last GEMM step writes it (docs/microarch.md §15)",
    json: { TARGET: 'sim', ALU_REQUANT: true, GEMM_REQUANT: true },
  },
  { name: 'pynq', description: 'PYNQ-Z1 (Zynq-7020), 64-bit bus, 100 MHz', json: { TARGET: 'pynq' } },
  { name: 'ultra96', description: 'Ultra96 (Zynq UltraScale+), 128-bit bus, 333 MHz', json: { TARGET: 'ultra96' } },
  { name: 'de10nano', description: 'DE10-Nano (Cyclone V), 64-bit bus, 100 MHz', json: { TARGET: 'de10nano' } },
  {
    name: 'batch2-block8',
    description: '2x8 GEMM; weight buffer halved so the GEMM fields fit 128 bits',
    json: { TARGET: 'sim', LOG_BATCH: 1, LOG_BLOCK: 3, LOG_WGT_BUFF_SIZE: 16 },
  },
  { name: 'block32', description: '1x32 GEMM (1024 MACs per cycle)', json: { TARGET: 'sim', LOG_BLOCK: 5 } },
  {
    name: 'ice40-small',
    description: 'iCE40 design point: 1x4 GEMM (16 MACs on 8 DSPs), 5 KiB of SRAM (with a board top it exceeds an UP5K\'s logic cells)',
    json: {
      TARGET: 'ice40', LOG_BLOCK: 2, LOG_UOP_BUFF_SIZE: 10, LOG_INP_BUFF_SIZE: 9, LOG_WGT_BUFF_SIZE: 10,
      LOG_ACC_BUFF_SIZE: 11, DSP_BUDGET: 8,
    },
  },
  {
    name: 'ice40-tiny',
    description: 'iCE40 design point: 1x2 GEMM (4 MACs in LUTs), 32-bit accumulators, 2.25 KiB of SRAM (hx8k-1x2 is its board-ready cut)',
    json: {
      TARGET: 'ice40', LOG_BLOCK: 1, LOG_UOP_BUFF_SIZE: 9, LOG_INP_BUFF_SIZE: 8, LOG_WGT_BUFF_SIZE: 8,
      LOG_ACC_BUFF_SIZE: 10, DSP_BUDGET: 0,
    },
  },
  {
    name: 'hx8k-1x2',
    description:
      'iCE40HX8K breakout: 1x2 GEMM (4 LUT multipliers), 16-bit accumulators, 2.5 KiB of SRAM, programs packed into its 8 KiB of board memory, 12 MHz; fills 90% of the logic cells',
    json: {
      TARGET: 'ice40', LOG_BLOCK: 1, LOG_ACC_WIDTH: 4, LOG_UOP_BUFF_SIZE: 9, LOG_INP_BUFF_SIZE: 8, LOG_WGT_BUFF_SIZE: 8,
      LOG_ACC_BUFF_SIZE: 10, DSP_BUDGET: 0, CMD_QUEUE_DEPTH: 1, MEM_OUTSTANDING: 1, MEM_BURST_BEATS: 4, MEM_CYCLES_PER_BEAT: 1,
      MEM_READ_LATENCY: 3, MEM_WRITE_LATENCY: 3, MEM_ADDR_BITS: 13, MEM_BUFFER_ALIGN: 64, CLOCK_MHZ: 12,
      BOARD: 'hx8k-breakout',
    },
  },
  {
    name: 'up5k-1x2',
    description:
      'iCEBreaker (iCE40UP5K): 1x2 GEMM on 2 SB_MAC16s (5 more carry the decode\'s and the ALU shifts\' products), 16-bit accumulators, 1.75 KiB of SRAM, 128 KiB of SPRAM as DRAM, no command queues, one read engine, requests and completions registered (MEM_REQ_REG, COMPUTE_DONE_REG), 12 MHz; fills 89% of the logic cells',
    json: {
      TARGET: 'ice40', LOG_BLOCK: 1, LOG_ACC_WIDTH: 4, LOG_UOP_BUFF_SIZE: 9, LOG_INP_BUFF_SIZE: 8, LOG_WGT_BUFF_SIZE: 8,
      LOG_ACC_BUFF_SIZE: 9, DSP_BUDGET: 8, CMD_QUEUE_DEPTH: 0, FETCH_BUFFER_BRAM: true, DMA_READ_ENGINES: 1, MEM_OUTSTANDING: 1,
      MEM_BURST_BEATS: 4, MEM_CYCLES_PER_BEAT: 2, MEM_READ_LATENCY: 4, MEM_WRITE_LATENCY: 4, MEM_ADDR_BITS: 17, MEM_BUFFER_ALIGN: 64,
      MEM_REQ_REG: true, COMPUTE_DONE_REG: true, CLOCK_MHZ: 12, BOARD: 'icebreaker',
    },
  },
  {
    name: 'up5k-1x4',
    description:
      'iCEBreaker (iCE40UP5K): 1x4 GEMM, 16 int8 MACs on all 8 SB_MAC16s, a one-lane ALU (ALU_II 4) and a serial decode to make room, 16-bit accumulators, 2.13 KiB of SRAM, 8 KiB of SPRAM as DRAM, 24 MHz from the PLL with the seven timing-cut keys (docs/microarch.md §17-§22); fills 89% of the logic cells',
    json: {
      TARGET: 'ice40', LOG_BLOCK: 2, LOG_ACC_WIDTH: 4, LOG_UOP_BUFF_SIZE: 8, LOG_INP_BUFF_SIZE: 7, LOG_WGT_BUFF_SIZE: 8,
      LOG_ACC_BUFF_SIZE: 10, DSP_BUDGET: 8, CMD_QUEUE_DEPTH: 0, FETCH_BUFFER_BRAM: true, DMA_READ_ENGINES: 1, MEM_OUTSTANDING: 1,
      MEM_BURST_BEATS: 4, MEM_CYCLES_PER_BEAT: 2, MEM_READ_LATENCY: 4, MEM_WRITE_LATENCY: 4, MEM_ADDR_BITS: 13, MEM_BUFFER_ALIGN: 64,
      ALU_II: 4, FETCH_DECODE_SERIAL: true, COMPUTE_READ_REG: true, READ_DONE_REG: true, TOKEN_PUSH_REG: true, UOP_ISSUE_REG: true,
      MEM_REQ_REG: true, COMPUTE_DONE_REG: true, ALU_WRITE_REG: true, CLOCK_MHZ: 24, BOARD: 'icebreaker',
    },
  },
  {
    name: 'hx8k-1x4',
    description:
      'iCE40HX8K breakout: 1x4 GEMM, 16 int8 MACs as shift-and-add LUT multipliers, a one-lane ALU (ALU_II 4), serial decode, fetch buffer in flip-flops, 16-bit accumulators, 2.13 KiB of SRAM, 6 KiB of block RAM as DRAM (the core keeps 20 of the 32 EBR), 24 MHz from the PLL; fills 89% of the logic cells',
    json: {
      TARGET: 'ice40', LOG_BLOCK: 2, LOG_ACC_WIDTH: 4, LOG_UOP_BUFF_SIZE: 8, LOG_INP_BUFF_SIZE: 7, LOG_WGT_BUFF_SIZE: 8,
      LOG_ACC_BUFF_SIZE: 10, DSP_BUDGET: 0, CMD_QUEUE_DEPTH: 0, FETCH_BUFFER_BRAM: false, DMA_READ_ENGINES: 1, MEM_OUTSTANDING: 1,
      MEM_BURST_BEATS: 4, MEM_CYCLES_PER_BEAT: 2, MEM_READ_LATENCY: 3, MEM_WRITE_LATENCY: 3, MEM_ADDR_BITS: 13, MEM_BUFFER_ALIGN: 64,
      ALU_II: 4, FETCH_DECODE_SERIAL: true, CLOCK_MHZ: 24, BOARD: 'hx8k-breakout', BOARD_MEM_BYTES: 6144,
    },
  },
];

export const PRESET_NAMES: readonly string[] = PRESETS.map((p) => p.name);
