import type { Command } from 'commander';
import { VtwError } from '../../errors.ts';
import { checkTools, hostCpuPath, testPrerequisiteProblem } from '../../prereq.ts';
import { table } from '../../report/table.ts';
import { openclDevices } from '../../../compiler/gpu/opencl.ts';
import { cudaUnavailable } from '../../../compiler/gpu/cuda.ts';

/** The GPU targets' view of this machine: OpenCL devices and whether CUDA kernels can run (compiler/gpu). */
function gpuStatus(): { opencl: Array<{ platform: string; device: string; version: string }>; opencl_problem?: string; cuda_driver: string } {
  let opencl: Array<{ platform: string; device: string; version: string }> = [];
  let problem: string | undefined;
  try {
    opencl = openclDevices().map((d) => ({ platform: d.platform, device: d.name, version: d.version }));
    if (!opencl.length) problem = 'the OpenCL library lists no platform or device (install pocl-opencl-icd or a GPU vendor driver)';
  } catch (e) {
    problem = (e as Error).message;
  }
  return { opencl, ...(problem ? { opencl_problem: problem } : {}), cuda_driver: cudaUnavailable() ?? 'present, with a GPU' };
}

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
      const gpu = gpuStatus();
      if (opts.json) {
        console.log(JSON.stringify({ ok: problem === null, tools, host_cpu_path: cpuPath, gpu }, null, 2));
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
        for (const dv of gpu.opencl) console.log(`OpenCL device: ${dv.device} (${dv.platform}, ${dv.version}): --target opencl`);
        if (gpu.opencl_problem) console.log(`OpenCL: ${gpu.opencl_problem}`);
        const nvcc = tools.find((t) => t.id === 'nvcc');
        console.log(`CUDA: toolkit ${nvcc?.ok ? `nvcc ${nvcc.version}` : 'not found'}; driver: ${gpu.cuda_driver}`);
        if (!problem) console.log('everything npm test needs is installed');
      }
      // The table (or JSON) first, then the one-line error and exit 1 (src/cli/main.ts).
      if (problem) throw new VtwError(problem);
    });
}
