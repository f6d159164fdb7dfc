#!/usr/bin/env node
// Launcher: runs the TypeScript CLI through tsx so `npx vtw` works without a build step.
import { register } from 'tsx/esm/api';
register();
const { main, exitQuietlyWhenOutputCloses } = await import('../src/cli/main.ts');
exitQuietlyWhenOutputCloses();
process.exitCode = await main(process.argv.slice(2));
