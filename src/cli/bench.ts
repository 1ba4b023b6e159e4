/** `cds-distill bench`: the cost of one real training step of a method on a model (synthetic inputs). */
import { Command } from 'commander';
import { benchmarkStep } from '../train/benchmark.js';
import { addRuntimeOptions, count, examples, keyValue, nonNegativeInt, Output, positiveInt, shape3, startBackend } from './common.js';
import { methodHelp } from './run.js';
import { compareBackends } from './bench-compare.js';

export function registerBench(program: Command, exit: (code: number) => void): void {
  const cmd = new Command('bench')
    .description('time the training step of a method on a zoo model (synthetic inputs, augmentation included; warm-up not counted)')
    .option('--model <name>', 'zoo model', 'resnet20')
    .option('--method <name>', 'training method', 'cds')
    .option('--method-option <key=value>', "override one of the method's options (repeatable)", keyValue)
    .option('--batch-size <n>', 'images per step', positiveInt, 64)
    .option('--input <HxWxC>', 'input shape', shape3, [32, 32, 3] as [number, number, number])
    .option('--classes <n>', 'number of classes', positiveInt, 100)
    .option('--steps <n>', 'timed steps', positiveInt, 5)
    .option('--warmup <n>', 'untimed warm-up steps', nonNegativeInt, 1)
    .option('--teacher <path>', 'teacher for a distillation method (default: the same zoo model, untrained and frozen)')
    .option('--compare', 'also time the same step on the other CPU backends (onednn, wasm) and in PyTorch CPU when importable, with speed ratios');
  addRuntimeOptions(cmd);
  cmd
    .addHelpText(
      'after',
      examples([
        'cds-distill bench --model resnet18 --method cds --batch-size 32 --input 32x32x3 --classes 100 --steps 3 --json',
        'cds-distill bench --model resnet8 --method kd --input 28x28x1 --classes 10 --backend wasm',
        'cds-distill bench --model resnet18 --method cds --batch-size 32 --steps 3 --backend onednn --compare',
      ]) + methodHelp(),
    )
    .action(async (opts: Record<string, unknown>) => {
      const out = new Output(opts);
      const backend = await startBackend(opts['backend'] as string, out);
      out.log(`bench: ${String(opts['model'])} with ${String(opts['method'])} on ${backend}...`);
      const r = await benchmarkStep({
        model: opts['model'] as string,
        method: opts['method'] as string,
        methodOptions: opts['methodOption'] as Record<string, unknown> | undefined,
        batchSize: opts['batchSize'] as number,
        inputShape: opts['input'] as [number, number, number],
        numClasses: opts['classes'] as number,
        steps: opts['steps'] as number,
        warmupSteps: opts['warmup'] as number,
        teacher: opts['teacher'] as string | undefined,
        seed: opts['seed'] as number | undefined,
      });
      // The library's own names (BenchmarkResult), as every command's --json uses them.
      const json = {
        model: r.model,
        method: r.method,
        backend: r.backend,
        batchSize: r.batchSize,
        inputShape: r.inputShape,
        numClasses: r.numClasses,
        rowsPerStep: r.rowsPerStep,
        steps: r.steps,
        warmupSteps: r.warmupSteps,
        imgPerSec: r.imgPerSec,
        msPerStep: r.msPerStep,
        stepMs: r.stepMs,
        params: r.params,
        trainParams: r.trainParams,
        ...(r.teacher ? { teacher: r.teacher } : {}),
      };
      const comparison = opts['compare'] ? compareBackends(r, opts, (line) => out.log(line)) : undefined;
      out.result(comparison ? { ...json, compare: comparison.rows } : json, () =>
        `${r.model} / ${r.method} on ${r.backend}: ${r.msPerStep.toFixed(1)} ms per step (median of ${r.steps}), ` +
        `${r.imgPerSec.toFixed(1)} img/s at batch ${r.batchSize} (${r.rowsPerStep} rows), input ${r.inputShape.join('x')}, ` +
        `${count(r.params)} parameters (${count(r.trainParams)} while training)` +
        (comparison ? `\n${comparison.text}` : ''),
      );
      exit(0);
    });
  program.addCommand(cmd);
}
