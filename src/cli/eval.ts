/** `cds-distill eval`: accuracy, calibration, size and latency of a saved model or run on a dataset. */
import { Command } from 'commander';
import { evaluateModel } from '../train/saved-models.js';
import { addRuntimeOptions, examples, nonNegativeInt, Output, pct, positiveInt, startBackend, table, count } from './common.js';

/** How the human-readable line says which test images were used. */
const TEST_SET = { all: ': all of the test split', limit: ': --test-limit', run: ": the run's own --test-limit" } as const;

export function registerEval(program: Command, exit: (code: number) => void): void {
  const cmd = new Command('eval')
    .description('evaluate a model (run directory, student bundle, model directory or model.json): top-1/5, ECE, NLL, parameters, latency per image')
    .argument('<model>', 'a run directory, a student bundle directory, a model directory or a model.json')
    .option('--data <spec>', "dataset spec whose test split to use (default: a run directory's own data)")
    .option('--test-limit <n>', "test images to use, stratified (default: a run directory's own --test-limit, else all)", positiveInt)
    .option('--batch-size <n>', 'evaluation batch size (default: 256)', positiveInt)
    .option('--latency-runs <n>', 'timed single-image calls for the latency; 0 skips it (default: 20)', nonNegativeInt);
  addRuntimeOptions(cmd, { seed: false });
  cmd
    .addHelpText(
      'after',
      examples([
        'cds-distill eval runs/r8-cdskd                                  # the run\'s best model on its own test split',
        'cds-distill eval runs/r8-cdskd/student/model.json --data fashion-mnist --json',
        'cds-distill eval teachers/resnet20-fashion-cds --data fashion-mnist-slice --test-limit 500',
      ]),
    )
    .action(async (model: string, opts: Record<string, unknown>) => {
      const out = new Output(opts);
      await startBackend(opts['backend'] as string, out);
      const r = await evaluateModel(model, opts['data'] as string | undefined, {
        limit: opts['testLimit'] as number | undefined,
        batchSize: opts['batchSize'] as number | undefined,
        latencyRuns: opts['latencyRuns'] as number | undefined,
        onNote: (m) => out.log(`note: ${m}`),
      });
      const json = {
        model: r.source,
        kind: r.kind,
        data: r.data,
        count: r.metrics.count,
        testSet: r.testSet,
        top1: r.metrics.top1,
        top5: r.metrics.top5,
        ece: r.metrics.ece,
        nll: r.metrics.nll,
        params: r.params,
        latencyMs: r.latencyMs ?? null,
        backend: r.backend,
      };
      out.result(json, () =>
        `${r.source} on ${r.data} (${r.metrics.count} test images${TEST_SET[r.testSet]}, ${r.backend})\n` +
        table(
          ['top-1', 'top-5', 'ECE', 'NLL', 'params', 'latency/image'],
          [[pct(r.metrics.top1), pct(r.metrics.top5), r.metrics.ece.toFixed(4), r.metrics.nll.toFixed(4), count(r.params), r.latencyMs === undefined ? '-' : `${r.latencyMs.toFixed(2)} ms`]],
        ),
      );
      exit(0);
    });
  program.addCommand(cmd);
}
