export { TsEngine, runSync, DEFAULT_MAX_CYCLES } from './engine.ts';
export { toChromeTrace, chromeTraceJson, type ChromeTraceOptions } from './trace.ts';
export { Datapath } from './datapath.ts';
export { BurstCursor, countBeats, type Segment, type Burst } from './memory.ts';
