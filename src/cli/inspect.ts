/** `cds-distill inspect`: stages, shapes, parameters and MACs of a zoo model or a saved model. */
import { existsSync } from 'node:fs';
import { Command } from 'commander';
import { buildModel, inspect, listModels } from '../models/index.js';
import type { ModelInspection } from '../models/index.js';
import { loadModel } from '../train/saved-models.js';
import { addRuntimeOptions, CliError, count, examples, Output, positiveInt, shape3, startBackend, table } from './common.js';

function shapeText(s: readonly (number | null)[]): string {
  return s.map((d) => d ?? '?').join('x');
}

function render(r: ModelInspection, layers: boolean, heads: number | undefined): string {
  const lines = [`${r.name}: input ${shapeText(r.inputShape)}`];
  lines.push(
    table(
      ['group', 'layers', 'output', 'params', 'MACs'],
      r.groups.map((g) => [g.name, String(g.layers), shapeText(g.outputShape), count(g.trainableParams), count(g.macs)]),
    ),
  );
  if (r.features) {
    lines.push('', 'feature taps (* = stage with a CDS head):');
    lines.push(table(['#', 'layer', 'shape', 'stage'], r.features.map((f) => [String(f.index), f.layerName, f.shape.join('x'), f.isStage ? '*' : ''])));
  }
  if (layers) {
    lines.push('', table(['layer', 'class', 'output', 'params', 'MACs'], r.layers.map((l) => [l.name, l.className, shapeText(l.outputShape), String(l.trainableParams), String(l.macs)])));
  }
  lines.push(
    '',
    `trainable parameters ${r.trainableParams.toLocaleString('en-US')} (non-trainable ${r.nonTrainableParams.toLocaleString('en-US')}), ` +
      `MACs per image ${r.macs.toLocaleString('en-US')}` + (r.pooledDim !== undefined ? `, pooled feature ${r.pooledDim}` : ''),
  );
  if (heads !== undefined) lines.push(`training heads (dropped at export): ${heads.toLocaleString('en-US')} parameters`);
  return lines.join('\n');
}

export function registerInspect(program: Command, exit: (code: number) => void): void {
  const cmd = new Command('inspect')
    .description('show the stages, output shapes, parameters and MACs of a zoo model or a saved model')
    .argument('<model>', 'a zoo name (resnet20, wrn_40_2, ...) or a run directory, student bundle, model directory or model.json')
    .option('--input <HxWxC>', 'input shape for a zoo model (default: 32x32x3)', shape3)
    .option('--classes <n>', 'classes for a zoo model (default: 100)', positiveInt)
    .option('--layers', 'list every layer');
  addRuntimeOptions(cmd, { seed: false });
  cmd
    .addHelpText(
      'after',
      examples([
        'cds-distill inspect resnet18 --classes 100',
        'cds-distill inspect resnet8 --input 28x28x1 --classes 10 --layers',
        'cds-distill inspect runs/r8-cdskd --json',
      ]) + `\nModels: ${listModels().join(', ')}\n`,
    )
    .action(async (target: string, opts: Record<string, unknown>) => {
      const out = new Output(opts);
      await startBackend(opts['backend'] as string, out);
      let result: ModelInspection;
      let heads: number | undefined;
      const looksLikePath = existsSync(target) || /[/\\]|\.json$/i.test(target);
      if (looksLikePath) {
        if (opts['input'] !== undefined || opts['classes'] !== undefined) {
          throw new CliError('--input and --classes apply to zoo names only; a saved model has its own shapes');
        }
        const loaded = await loadModel(target);
        try {
          result = loaded.student ? inspect(loaded.student.backbone) : inspect(loaded.model);
          heads = loaded.student && loaded.student.heads !== 'none' ? loaded.student.countParams().heads : undefined;
        } finally {
          loaded.dispose();
        }
      } else {
        const tapped = buildModel(target, {
          inputShape: (opts['input'] as [number, number, number] | undefined) ?? [32, 32, 3],
          numClasses: (opts['classes'] as number | undefined) ?? 100,
        });
        try {
          result = inspect(tapped);
        } finally {
          tapped.net.dispose();
        }
      }
      const json = opts['layers'] ? { ...result, headParams: heads } : { ...result, layers: undefined, headParams: heads };
      out.result(json, () => render(result, opts['layers'] === true, heads));
      exit(0);
    });
  program.addCommand(cmd);
}
