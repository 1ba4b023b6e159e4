/** `cds-distill inspect`: stages, shapes, parameters and MACs of a zoo model or a saved model (layers or graph). */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { Command } from 'commander';
import { tf } from '../runtime/tf.js';
import { buildModel, inspect, inspectGraph, listModels, STAGE_CANDIDATE_OPS } from '../models/index.js';
import type { GraphInspection, ModelInspection } from '../models/index.js';
import { loadGraphModelFromDir } from '../io/index.js';
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

/** The model.json a path names when it is in tfjs's graph-model format (else undefined: not a graph model). */
async function graphModelFile(target: string): Promise<{ file: string; json: unknown } | undefined> {
  const abs = resolve(target);
  try {
    const file = (await stat(abs)).isDirectory() ? join(abs, 'model.json') : abs;
    const json = JSON.parse(await readFile(file, 'utf8')) as { format?: unknown };
    return json != null && json.format === 'graph-model' ? { file, json } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Describe a graph model: its JSON, plus the output shapes of the stage-candidate nodes from one run on zeros when the
 * input size is known (the graph's own, else `input`); a graph that cannot run that way is described without shapes.
 */
export async function inspectGraphModelFile(file: string, input?: readonly [number, number, number]): Promise<GraphInspection> {
  const model = await loadGraphModelFromDir(file);
  const json = JSON.parse(await readFile(file, 'utf8')) as { modelTopology?: { node?: { name?: string; op?: string }[] } };
  let shapes: Map<string, number[]> | undefined;
  try {
    const declared = model.inputs.length === 1 ? model.inputs[0]!.shape?.slice(1) : undefined;
    const size = declared != null && declared.length === 3 && declared.every((d) => d > 0) ? declared : input;
    const names = (json.modelTopology?.node ?? []).filter((n) => n.name != null && STAGE_CANDIDATE_OPS.has(n.op ?? '')).map((n) => n.name!);
    if (size != null && names.length > 0) {
      const x = tf.zeros([1, ...size]);
      try {
        const outs = model.execute({ [model.inputs[0]!.name]: x }, names) as tf.Tensor | tf.Tensor[];
        const list = Array.isArray(outs) ? outs : [outs];
        shapes = new Map(list.map((t, i) => [names[i]!, t.shape]));
        tf.dispose(list);
      } finally {
        x.dispose();
      }
    }
  } catch {
    shapes = undefined;
  } finally {
    model.dispose();
  }
  return inspectGraph(basename(file), json, shapes);
}

function renderGraph(r: GraphInspection, file: string): string {
  const lines = [`${file}: graph model, ${r.nodes} nodes, ${r.params.toLocaleString('en-US')} parameters`];
  for (const i of r.inputs) lines.push(`input  ${i.name}: ${i.shape.length ? shapeText(i.shape) : 'unknown shape'} ${i.dtype}`);
  lines.push(`output ${r.outputs.join(', ')}`);
  lines.push(`ops: ${r.ops.map((o) => `${o.op} ${o.count}`).join(', ')}`);
  lines.push('');
  if (r.stageCandidates.length === 0) {
    lines.push('no stage candidates (no conv, activation or pooling nodes): use kd or dkd, which need only the logits');
  } else if (r.probed) {
    lines.push('candidate stage nodes (the last at each resolution), for --teacher-stages:');
    lines.push(table(['node', 'op', 'shape'], r.stageCandidates.map((c) => [c.name, c.op, c.shape ? c.shape.join('x') : '?'])));
    lines.push(`  e.g. --teacher-stages ${r.stageCandidates.map((c) => c.name).join(',')}`);
  } else {
    const shown = r.stageCandidates.slice(0, 30);
    lines.push('candidate stage nodes (shapes unknown: the input size is not fixed; pass --input HxWxC to probe), for --teacher-stages:');
    lines.push(table(['node', 'op'], shown.map((c) => [c.name, c.op])));
    if (r.stageCandidates.length > shown.length) lines.push(`  ... ${r.stageCandidates.length - shown.length} more (--json lists all)`);
  }
  lines.push('(kd and dkd need no stages; name the logits node with --teacher-logits when the output is not the logits)');
  return lines.join('\n');
}

export function registerInspect(program: Command, exit: (code: number) => void): void {
  const cmd = new Command('inspect')
    .description('show the stages, output shapes, parameters and MACs of a zoo model or a saved model')
    .argument('<model>', 'a zoo name (resnet20, wrn_40_2, ...) or a run directory, student bundle, model directory or model.json')
    .option('--input <HxWxC>', 'input shape for a zoo model (default: 32x32x3), or to probe a graph model of unknown input size', shape3)
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
        'cds-distill inspect tfjs_graph/model.json        # a graph model: inputs, outputs, ops, stage candidates',
      ]) + `\nModels: ${listModels().join(', ')}\n`,
    )
    .action(async (target: string, opts: Record<string, unknown>) => {
      const out = new Output(opts);
      await startBackend(opts['backend'] as string, out);
      let result: ModelInspection;
      let heads: number | undefined;
      const looksLikePath = existsSync(target) || /[/\\]|\.json$/i.test(target);
      const graph = looksLikePath ? await graphModelFile(target) : undefined;
      if (graph) {
        if (opts['classes'] !== undefined) throw new CliError('--classes applies to zoo names only; a saved model has its own classes');
        const described = await inspectGraphModelFile(graph.file, opts['input'] as [number, number, number] | undefined);
        out.result(described, () => renderGraph(described, graph.file));
        exit(0);
        return;
      }
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
