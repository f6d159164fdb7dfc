export { TsEngine, runSync, DEFAULT_MAX_CYCLES } from './engine.ts';
export { toChromeTrace, chromeTraceJson, type ChromeTraceOptions } from './trace.ts';
export { TOKEN_QUEUE_DEPTH, fetchBufferDepth, timingOf, type Timing } from './params.ts';
export { Datapath } from './datapath.ts';
export { BurstCursor, countBeats, CLIENTS, type Segment, type Burst } from './memory.ts';
