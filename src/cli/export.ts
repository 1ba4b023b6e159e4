/** `cds-distill export`: a run's student as a bare tfjs LayersModel directory (no heads). */
import { basename, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { exportRun } from '../train/export-run.js';
import { addRuntimeOptions, count, examples, Output, startBackend } from './common.js';

export function registerExport(program: Command, exit: (code: number) => void): void {
  const cmd = new Command('export')
    .description("write a run's student (best/ or last checkpoint) as a bare tfjs LayersModel: model.json + weights, no heads")
    .argument('<run>', 'a run directory written by train/distill (or a student bundle directory)')
    .option('--out <dir>', 'where to write the model (default: ./<run name>-student)')
    .addOption(new Option('--from <which>', 'best: the best epoch (best/); last: the last checkpoint').choices(['best', 'last']).default('best'));
  addRuntimeOptions(cmd, { seed: false });
  cmd
    .addHelpText(
      'after',
      examples([
        'cds-distill export runs/r8-cdskd --out models/resnet8-fashion',
        'cds-distill export runs/r8-cdskd --from last --json',
      ]),
    )
    .action(async (run: string, opts: Record<string, unknown>) => {
      const out = new Output(opts);
      await startBackend(opts['backend'] as string, out);
      const dir = (opts['out'] as string | undefined) ?? `${basename(resolve(run))}-student`;
      const r = await exportRun(run, dir, { from: opts['from'] as 'best' | 'last' });
      const json = {
        dir: r.dir, modelFile: r.modelFile, source: r.source, model: r.model, params: r.params, meta: r.meta,
        input: r.input, ...(r.inputSpec ? { inputSpec: r.inputSpec } : {}),
      };
      out.result(json, () => {
        const epoch = typeof r.meta['epoch'] === 'number' ? ` (epoch ${r.meta['epoch']})` : '';
        const input = r.input === 'raw'
          ? 'it takes raw pixels (0..255) and normalises them itself; class names in its userDefinedMetadata'
          : 'it takes standardized inputs (no normalisation was recorded with this run)';
        return `exported ${r.model}${epoch}, ${count(r.params)} parameters, from ${r.source}\n-> ${r.modelFile}\n${input}`;
      });
      exit(0);
    });
  program.addCommand(cmd);
}
