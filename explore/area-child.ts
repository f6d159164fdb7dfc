/**
 * One area measurement in a process of its own, so that a time limit can end it (a near-full
 * iCE40 design can keep nextpnr busy for an hour): `tsx explore/area-child.ts '{"config", "method", "seed"}'`
 * prints the AreaResult as JSON; a failure is one line on stderr and exit status 1.
 */
import { measureArea } from './evaluate.ts';

try {
  const { config, method, seed } = JSON.parse(process.argv[2] ?? '');
  process.stdout.write(JSON.stringify(await measureArea(config, method, { seed })) + '\n');
} catch (e) {
  process.stderr.write(`${(e instanceof Error ? e.message : String(e)).split('\n')[0]}\n`);
  process.exitCode = 1;
}
