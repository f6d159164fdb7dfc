import type { Command } from 'commander';
import { VtwError } from '../../errors.ts';
import { checkTools, hostCpuPath, testPrerequisiteProblem } from '../../prereq.ts';
import { table } from '../../report/table.ts';

/**
 * `vtw doctor`: every external tool from src/prereq.ts, whether it is found, its version, what it
 * enables and the command that installs it. Exits 1 when something `npm test` needs is missing.
 */
export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check the external tools vtw uses (Verilator, C/C++ compilers, make, OpenCL, CUDA, yosys/nextpnr) and how to install each')
    .option('--json', 'print every tool\'s status as JSON')
    .action((opts: { json?: boolean }) => {
      const tools = checkTools();
      const problem = testPrerequisiteProblem(tools);
      const cpuPath = hostCpuPath(tools);
      if (opts.json) {
        console.log(JSON.stringify({ ok: problem === null, tools, host_cpu_path: cpuPath }, null, 2));
      } else {
        console.log(
          table(
            ['tool', 'status', 'version', 'needed by', 'enables', 'install'],
            tools.map((t) => [
              t.name,
              t.ok ? 'ok' : t.problem ?? '',
              t.version ?? '-',
              t.neededByTests ? 'npm test' : 'optional',
              t.enables,
              t.install,
            ]),
          ),
        );
        console.log(`host CPU path: ${cpuPath.target ? `--target ${cpuPath.target}` : 'none'} (${cpuPath.why})`);
        if (!problem) console.log('everything npm test needs is installed');
      }
      // The table (or JSON) first, then the one-line error and exit 1 (src/cli/main.ts).
      if (problem) throw new VtwError(problem);
    });
}
