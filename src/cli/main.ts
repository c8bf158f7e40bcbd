/** The `incept` command line. Each command lives in its own module under src/cli/. */
import { Command, Option } from 'commander';
import pkg from '../../package.json' with { type: 'json' };
import { createEngine } from '../runtime/engine.js';
import { InceptError } from '../runtime/errors.js';
import { DRIVER_CHOICES, type DriverChoice } from '../runtime/gpu-node.js';
import { measureMatmulPeak } from '../bench/matmul-peak.js';
import { buildDeviceReport, checkDeviceOptions, formatDeviceReport } from './device-report.js';
import { benchConvs, type BenchConvsOptions } from './bench-convs.js';
import { benchOps, type BenchOpsOptions } from './bench-ops.js';
import { benchTrainStep, type BenchTrainStepOptions } from './bench-train-step.js';
import { benchModel, type BenchModelOptions } from './bench-model.js';
import { benchFactorization, type BenchFactorizationOptions } from './bench-factorization.js';
import { profileCommand, type ProfileCliOptions } from './profile.js';
import { progressLine } from './progress.js';
import { runSummary, type SummaryOptions } from './summary.js';
import { runTrain, type TrainCliOptions } from './train.js';
import { registerInferCommand } from './infer.js';
import { registerServeCommand } from './serve.js';
import { runExport } from './export.js';

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
      checkDeviceOptions(opts);
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

  program
    .command('summary')
    .description('Inception-v3 layer by layer: output shape, parameters and multiply-adds, with totals')
    .option('--no-aux', 'leave the auxiliary head out')
    .option(
      '--input <n>',
      'input height and width (default 299; at least 75, and 299 with the aux head; --cifar10: default 32, at least 8, and 17 with the aux head)',
    )
    .option('--classes <n>', 'output classes (default 1000; 10 with --cifar10)')
    .option(
      '--cifar10',
      "the CIFAR-10 variant: a stride-1 small-image stem and 'same' padding throughout (32×32 input, 10 classes unless --input/--classes say otherwise)",
    )
    .option('--width <w>', "width multiplier on every conv's output channels, rounded to a multiple of 4 (default 1)")
    .option('--stem <kind>', "v3 (three 3×3 convs, default) or 7x7 (Inception-v2's single 7×7 conv: the paper's Table 3 ablation)")
    .option('--no-aux-bn', 'aux head convs without BatchNorm (with a bias), as before the paper')
    .option('--low-resolution <n>', "79 or 151: the paper's Table 2 low-resolution variants (stride-1 first conv; 79 also drops the first max-pool)")
    .option('--json', 'print JSON: { variant, width, input, totalParams, totalMacs, layers: [ { name, outputShape [N, C, H, W], params, macs } ] }')
    .action((opts: SummaryOptions) => runSummary(opts));

  program
    .command('train')
    .description(
      'Train the CIFAR-10 variant of Inception-v3: progress bar, test-set evaluation each epoch, JSON-lines metrics, an HTML report, checkpoints (epoch ends, every --checkpoint-every minutes, time budget, Ctrl-C) and --resume',
    )
    .addOption(driverOption())
    .option('--data <dir>', 'folder with the CIFAR-10 binary files (default ../shared/data/cifar-10-batches-bin)')
    .option('--out <dir>', 'where checkpoints, metrics and the report go (default runs/cifar10)')
    .option('--width <w>', 'width multiplier of the network (default 0.25)')
    .option('--epochs <n>', 'epochs (default 10)')
    .option('--batch-size <n>', 'images per step (default 64)')
    .option('--lr <rate>', 'peak learning rate (default 0.05 for sgd, 0.045 for rmsprop)')
    .option('--optimizer <name>', 'sgd (momentum, default) or rmsprop (TensorFlow form: decay 0.9, ε 1.0, as the paper)')
    .option('--schedule <name>', 'cosine (default for sgd), exponential (0.94 every 2 epochs, default for rmsprop), step, constant')
    .option('--warmup <steps>', 'linear learning-rate warm-up in steps (default 100)')
    .option('--momentum <m>', 'momentum (default 0.9)')
    .option('--weight-decay <wd>', 'L2 weight decay, not on BatchNorm or biases (default 5e-4)')
    .option('--label-smoothing <e>', 'label smoothing ε (default 0.1)')
    .option('--aux-weight <w>', "weight of the aux head's loss (default 0.4; 0 leaves it out of the loss)")
    .option('--clip <norm>', 'clip gradients by global norm (default 2; 0 off)')
    .option('--minutes <m>', 'time budget: after it, finish the step, evaluate, checkpoint and exit')
    .option('--seed <n>', 'seed of initialisation, shuffling, augmentation and dropout (default 1)')
    .option('--ema <decay>', "evaluate with a moving average of the weights (the paper's; e.g. 0.999); default off")
    .option('--metrics <file>', 'JSON-lines metrics (default <out>/metrics.jsonl)')
    .option('--resume', 'continue the run in --out from its newest checkpoint, with the settings it was started with (a flag that contradicts them is refused)')
    .option('--overwrite', 'start a new run in an --out folder that holds one, deleting its checkpoints, metrics and report')
    .option('--train-limit <n>', 'use only the first n training images')
    .option('--test-limit <n>', 'evaluate on the first n test images only')
    .option('--max-steps <n>', 'stop after this step (checkpointed; resume continues)')
    .option('--checkpoint-every <minutes>', 'also checkpoint mid-epoch this often, so a crash loses at most this much (default 10; 0: after every step)')
    .option('--log-every <steps>', 'a metrics line every this many steps (default 10)')
    .option(
      '--preset <name>',
      'quick: a run that visibly learns in about 5 minutes on 2 CPU cores without a GPU (width 0.0625, batch 16, 3 epochs of 1,440 training images, lr 0.05, evaluated on 500 test images); flags given win over it, and --resume restores it',
    )
    .action(async (opts: TrainCliOptions) => runTrain(opts));

  program
    .command('export')
    .description(
      "Write the engine's Inception-v3 as ONNX (the inference graph, NCHW, dynamic batch) or as a torchvision-layout safetensors state dict; random weights (seeded) unless --weights gives a torchvision state dict",
    )
    .addOption(driverOption())
    .requiredOption('--out <file>', 'the file to write; .onnx or .safetensors gives the format')
    .addOption(new Option('--format <name>', 'onnx or safetensors (default: from the extension)').choices(['onnx', 'safetensors']))
    .option('--weights <file>', 'a torchvision / timm Inception-v3 state dict (safetensors) to export instead of random weights')
    .option('--classes <n>', "output classes (default 1000, or the weights file's)")
    .option('--seed <n>', 'seed of the random initialisation, 0 to 4294967295 (default 0)')
    .option('--input <n>', 'input height and width (default 299)')
    .option('--cifar10', 'the CIFAR-10 variant (32×32 input)')
    .option('--width <w>', 'width multiplier (default 1)')
    .option('--opset <n>', 'ONNX opset, 7 to 21 (default 13)')
    .action(
      async (opts: {
        out: string;
        format?: 'onnx' | 'safetensors';
        weights?: string;
        classes?: string;
        seed?: string;
        input?: string;
        cifar10?: boolean;
        width?: string;
        opset?: string;
        driver?: DriverChoice;
      }) => {
        await runExport({
          out: opts.out,
          format: opts.format,
          weights: opts.weights,
          numClasses: opts.classes,
          seed: opts.seed,
          input: opts.input,
          variant: opts.cifar10 ? 'cifar10' : undefined,
          width: opts.width,
          opset: opts.opset,
          driver: opts.driver,
        });
      },
    );

  registerInferCommand(program);
  registerServeCommand(program);

  const bench = program.command('bench').description('Benchmarks');
  bench
    .command('factorization')
    .description("Inception-v3's full convolutions against their factorized replacements (5×5 vs two 3×3, n×n vs 1×n + n×1, 3×3 vs two 2×2)")
    .addOption(driverOption())
    .option('--quick', 'batch 1 only and a small tuning budget (a few minutes on a 2-core CPU)')
    .option('--json <file>', 'also write the results as JSON')
    .option('--html <file>', 'where to write the HTML report (default reports/factorization[-quick].html)')
    .option('--batches <list>', 'batch sizes, e.g. 1,8 (default 1,8; quick: 1)')
    .option('--repeats <n>', 'timed runs per side after warm-up (default 10)')
    .option('--filter <text>', "only the rows whose name contains this text ('7x7' matches '7×7')")
    .option('--tuning-budget <seconds>', 'wall time for measuring kernel variants, compilation included (default 240; quick: 30)')
    .option('--no-tune', 'use stored or heuristic kernel choices, measure nothing new')
    .addOption(
      new Option('--format <format>', 'table on stdout: text (fitted to the terminal), md (markdown) or csv (every value; notes go to stderr)').choices([
        'text',
        'md',
        'csv',
      ]),
    )
    .action(async (opts: BenchFactorizationOptions) => benchFactorization(opts));
  bench
    .command('convs')
    .description('Every distinct convolution shape of Inception-v3 as the dispatcher runs it: variant, GPU time, GFLOP/s and share of the matmul peak')
    .addOption(driverOption())
    .option('--batch <n>', 'batch size (default 1)')
    .option('--repeats <n>', 'timed runs per shape after warm-up (default 7)')
    .option('--filter <text>', "only shapes whose description (e.g. '1×7' or '1x7') or layer names contain this text")
    .option('--all-variants', 'also time every kernel variant that can run each shape, side by side')
    .option('--json <file>', 'also write the results as JSON')
    .option('--tuning-budget <seconds>', 'wall time for measuring kernel variants, compilation included (default 120)')
    .option('--no-tune', 'use stored or heuristic kernel choices, measure nothing new')
    .addOption(
      new Option('--format <format>', 'table on stdout: text (fitted to the terminal), md (markdown) or csv (every value; notes go to stderr)').choices([
        'text',
        'md',
        'csv',
      ]),
    )
    .action(async (opts: BenchConvsOptions) => benchConvs(opts));
  bench
    .command('ops')
    .description(
      "Inception-v3's memory-bound kernels (pooling, BatchNorm, concat, dropout, softmax cross-entropy, classifier, gradient norm): GPU time, GB/s, GFLOP/s",
    )
    .addOption(driverOption())
    .option('--batch <n>', 'batch size (default 8)')
    .option('--repeats <n>', 'timed runs per op after warm-up (default 7)')
    .option('--filter <text>', "only ops whose name or kind contains this text (e.g. 'pool2d')")
    .option('--json <file>', 'also write the results as JSON')
    .action(async (opts: BenchOpsOptions) => benchOps(opts));
  bench
    .command('train-step')
    .description(
      "One training step (forward, loss, backward) of Inception-v3's Mixed_5b (35×35) and Mixed_6b (17×17) modules: GPU time per op and kernel in each pass, backward GFLOP/s next to forward, peak memory",
    )
    .addOption(driverOption())
    .option('--batch <n>', 'batch size (default 8)')
    .option('--repeats <n>', 'timed steps after a warm-up step (default 3)')
    .option('--module <text>', "only the module whose name contains this (e.g. 'Mixed_6b')")
    .option('--json <file>', 'also write the results as JSON')
    .action(async (opts: BenchTrainStepOptions) => benchTrainStep(opts));
  bench
    .command('model')
    .description(
      'Inception-v3 end to end: the inference forward (BatchNorm folded) at each batch size and one training step, with GPU time per layer and in total, GFLOP/s, wall time and peak memory',
    )
    .addOption(driverOption())
    .option('--batches <list>', 'forward batch sizes (default 1,8; quick: 1)')
    .option('--train-batch <n>', 'batch of the training step, 0 to skip it (default 8; quick: 2)')
    .option('--repeats <n>', 'timed runs after a warm-up (default 3; quick: 1)')
    .option('--input <n>', 'input height and width (default 299; the aux head trains only from 299)')
    .option('--cifar10', 'the CIFAR-10 variant (32×32) instead of the ImageNet network')
    .option('--width <w>', 'width multiplier (default 1)')
    .option('--quick', 'batch 1 forward and a batch-2 training step, one timed run each')
    .option('--json <file>', 'also write the results as JSON')
    .option('--html <file>', 'where to write the HTML report (default reports/model[-quick].html)')
    .option(
      '--peers',
      'also time inference against TensorFlow.js (WebGPU; Node and Chromium) and ONNX Runtime Web (WebGPU; Chromium) on the same adapter, through the bench/peers harness (a source checkout; installs its packages on first use)',
    )
    .action(async (opts: BenchModelOptions) => benchModel(opts));

  program
    .command('profile')
    .description(
      'One Inception-v3 forward (or with --train one training step) profiled dispatch by dispatch: an HTML report with a timeline, every dispatch (layer, kernel variant, GPU ms, GFLOP/s and fraction of the matmul peak, GB/s) and the sums by layer and by kernel',
    )
    .addOption(driverOption())
    .option('--train', 'profile one training step (forward, loss, backward, SGD update) instead of an inference forward')
    .option('--batch <n>', 'images per run (default 1; with --train 2)')
    .option('--input <n>', 'input height and width (default 299; --cifar10: 32)')
    .option('--cifar10', 'the CIFAR-10 variant (32×32) instead of the ImageNet network')
    .option('--width <w>', 'width multiplier (default 1)')
    .option('--warmup <n>', 'runs before the profiled one (default 1: pipelines compile on the first)')
    .option('--peak <gflops>', "the adapter's matmul peak in GFLOP/s for the % of peak columns (default: measured in the same run, as `incept device` does)")
    .option('--html <file>', 'where to write the HTML report (default reports/profile.html; --train: reports/profile-train.html)')
    .option('--json <file>', 'also write every dispatch record, the sums and the peak as JSON')
    .action(async (opts: ProfileCliOptions) => profileCommand(opts));

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
