/** The `incept` command line. Each command lives in its own module under src/cli/. */
import { Command, Option } from 'commander';
import pkg from '../../package.json' with { type: 'json' };
import { createEngine } from '../runtime/engine.js';
import { InceptError } from '../runtime/errors.js';
import { DRIVER_CHOICES, type DriverChoice } from '../runtime/gpu-node.js';
import { measureMatmulPeak } from '../ops/matmul-peak.js';
import { buildDeviceReport, formatDeviceReport } from './device-report.js';
import { progressLine } from './progress.js';

function driverOption(): Option {
  return new Option('--driver <name>', 'Vulkan driver in Node on Linux (default: env INCEPT_DRIVER or auto)').choices([...DRIVER_CHOICES]);
}

export function buildProgram(): Command {
  const program = new Command('incept')
    .description('Hand-written WebGPU kernels: runtime, convolutions and Inception-v3.')
    .version(pkg.version)
    .showHelpAfterError();

  program
    .command('device')
    .description('Show the adapter the engine uses, why, its features and limits, and a measured matmul peak')
    .addOption(driverOption())
    .option('--json', 'print JSON (adapter, features, limits, peakGflops, …) instead of text')
    .option('--no-peak', 'skip the matmul peak measurement')
    .option('--quick', 'a shorter peak measurement (smaller problems, fewer repeats)')
    .action(async (opts: { driver?: DriverChoice; json?: boolean; peak: boolean; quick?: boolean }) => {
      const engine = await createEngine({ driver: opts.driver });
      try {
        let peak = null;
        if (opts.peak) {
          const progress = progressLine('measuring matmul peak');
          peak = await measureMatmulPeak(engine, {
            targetMs: opts.quick ? 40 : 150,
            repeats: opts.quick ? 3 : 5,
            onProgress: (m) => progress.update(m),
          });
          progress.done();
        }
        const report = buildDeviceReport(engine, peak);
        console.log(opts.json ? JSON.stringify(report, null, 2) : formatDeviceReport(report));
      } finally {
        engine.destroy();
      }
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    if (e instanceof InceptError) {
      console.error(`incept: ${e.message}`);
      process.exitCode = 1;
      return;
    }
    throw e;
  }
}
