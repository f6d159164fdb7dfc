#!/usr/bin/env -S node --initial-old-space-size=256
// V8's old generation starts small and grows by what survives, so a process that runs yosys (each
// run instantiates its 30 MB WebAssembly module and drops ~10 MB of tables) gets a full GC every
// run or two; starting it at 256 MB halves those GCs and takes 10-12 % off the CPU of an explore
// sweep, most of it on the GC's helper threads, which a pool that fills every core has to share
// (docs/benchmarks.md, "Design-space exploration"). Not a limit: the heap still grows as needed.
// Launcher: runs the TypeScript CLI through tsx so `npx vtw` works without a build step.
import { register } from 'tsx/esm/api';
register();
const { main, exitQuietlyWhenOutputCloses } = await import('../src/cli/main.ts');
exitQuietlyWhenOutputCloses();
process.exitCode = await main(process.argv.slice(2));
