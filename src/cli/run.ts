/**
 * What `train` and `distill` share: the run options, --config merging, --dry-run, progress, SIGINT/SIGTERM (finish
 * the step, write a checkpoint, say how to resume, exit 130) and the result summary.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { checkRun, checkRunDirectory, distill, resolveHyperparameters, train } from '../train/index.js';
import type { DistillOptions, RunResult, TrainOptions } from '../train/index.js';
import { optionsOf, RECIPE_COMMON } from '../train/options.js';
import { getMethod, listMethods, needsOf, resolveMethodOptions, viewRecipesOf } from '../methods/index.js';
import { buildModel, listModels } from '../models/index.js';
import { addRuntimeOptions, CliError, EXIT_INTERRUPTED, EXIT_OK, Output, pct, startBackend, UsageError } from './common.js';
import { addConfigOptions, addDeclaredOptions, declaredValues, mergeConfig } from './options.js';
import { Progress } from './progress.js';
import { runPaths } from '../run/paths.js';

/** The options of train or distill (declared in src/train/options.ts), then --config/--dry-run and the runtime's. */
export function addRunOptions(cmd: Command, kind: 'train' | 'distill'): Command {
  addDeclaredOptions(cmd, kind);
  addConfigOptions(cmd);
  addRuntimeOptions(cmd, { seed: false });
  return cmd;
}

/** The method list for help texts. */
export function methodHelp(filter?: (needsTeacher: boolean) => boolean): string {
  const lines = ['\nMethods:'];
  for (const r of listMethods()) {
    if (filter && !filter(r.needs.teacher)) continue;
    lines.push(`  ${r.name.padEnd(11)} ${r.summary}`);
  }
  return lines.join('\n') + '\n';
}

/** The zoo list for help texts. */
export function modelHelp(): string {
  return `\nModels: ${listModels().join(', ')}\n`;
}

function stamp(): string {
  const d = new Date();
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

type Opts = Record<string, unknown>;

function str(o: Opts, k: string): string | undefined {
  return typeof o[k] === 'string' ? (o[k] as string) : undefined;
}

/** The command line that continues an interrupted run. */
function resumeCommand(out: string): string {
  const args = process.argv.slice(2).filter((a) => a !== '--resume');
  const quoted = args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`));
  const hasOut = args.some((a) => a === '--out' || a.startsWith('--out='));
  return ['cds-distill', ...quoted, ...(hasOut ? [] : ['--out', out]), '--resume'].join(' ');
}

export async function runTraining(kind: 'train' | 'distill', cmd: Command): Promise<number> {
  const given = cmd.opts();
  // --resume without --config: what is not given on the command line is the run's own (its config.json).
  const savedConfig = typeof given['out'] === 'string' ? runPaths(given['out']).config : undefined;
  const resumeFromSaved = given['resume'] === true && given['config'] === undefined && savedConfig !== undefined && existsSync(savedConfig);
  const o = await mergeConfig(cmd, resumeFromSaved ? { ...given, config: savedConfig } : given);
  const out = new Output({ json: o['json'] === true, verbose: o['verbose'] === true });
  const values = declaredValues(o, kind);
  const missing = (kind === 'train' ? ['model'] : ['teacher', 'student']).filter((k) => str(values, k) === undefined);
  if (missing.length > 0) {
    throw new UsageError(
      `required option ${missing.map((k) => `--${k}`).join(', ')} not specified (give it as a flag or in --config); ` +
        `see cds-distill ${kind} --help`,
    );
  }
  const { model, teacher, student, ...chosen } = values;
  const modelName = (kind === 'train' ? model : student) as string;
  const base = { ...chosen, data: str(chosen, 'data') ?? RECIPE_COMMON.data } as Omit<TrainOptions, 'model'>;
  const methodName = base.method ?? (kind === 'train' ? 'cds' : 'cds-kd');
  if (base.resume && base.out === undefined) throw new CliError('--resume needs --out DIR: the run directory to continue');
  const runDir = base.out ?? join('runs', `${modelName}-${methodName}-${stamp()}`);
  const recipe = getMethod(methodName);
  const methodOptions = resolveMethodOptions(recipe, base.methodOptions ?? {});
  const runOptions = (extra: Partial<TrainOptions> = {}): TrainOptions | DistillOptions =>
    kind === 'train'
      ? { ...base, method: recipe.name, out: runDir, ...extra, model: modelName }
      : { ...base, method: recipe.name, out: runDir, ...extra, teacher: teacher as string, student: modelName };

  if (o['dryRun'] === true) {
    // Refuse an unknown model name now, as the run would (building it is cheap next to a run).
    await startBackend(str(o, 'backend'), out);
    buildModel(modelName, { inputShape: [32, 32, 3], numClasses: 10 }).net.dispose();
    // Every path and shape the run would use, checked without training (exits 1 on the first problem).
    const checked =
      kind === 'train' ? await checkRun('train', runOptions() as TrainOptions) : await checkRun('distill', runOptions() as DistillOptions);
    if (checked.dataset.note !== undefined) out.log(`data: ${checked.dataset.note}`);
    const resolved = {
      command: kind,
      ...(kind === 'train' ? { model: modelName } : { teacher, student: modelName }),
      ...base,
      out: runDir,
      method: recipe.name,
      methodSummary: recipe.summary,
      methodOptions,
      needs: needsOf(recipe, methodOptions),
      // The augmentation each step would draw: one recipe per view (crop, flip, cutout, colour).
      views: viewRecipesOf(needsOf(recipe, methodOptions), checked.inputShape),
      backend: str(o, 'backend') ?? 'auto',
      // What the run will use: the given values, the reference recipe's for the rest.
      ...resolveHyperparameters(kind, base, modelName),
      fromRecipe: optionsOf(kind)
        .filter((spec) => spec.default !== undefined && (runOptions() as unknown as Opts)[spec.key] === undefined)
        .map((spec) => spec.key),
      lrSchedule: checked.scheduleText,
      dataset: checked.dataset,
      inputShape: checked.inputShape,
      numClasses: checked.numClasses,
      ...(checked.stageMatch !== undefined ? { stageMatch: checked.stageMatch } : {}),
      runDirectory: checked.runDirectory,
    };
    out.result(resolved, () => JSON.stringify(resolved, null, 2));
    return EXIT_OK;
  }

  // Refuse an unusable run directory (a file, another run's, a finished run without --resume or --force, a resume
  // with other settings) before printing anything; the run checks again under the directory's lock.
  await checkRunDirectory(kind, { ...runOptions(), out: runDir });
  await startBackend(str(o, 'backend'), out);
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      out.log(`${sig} again: quitting without a checkpoint`);
      process.exit(EXIT_INTERRUPTED);
    }
    out.log(`\n${sig}: finishing this step and writing a checkpoint (press Ctrl-C again to quit at once)`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const progress = new Progress(out);
  out.log(`${kind}: ${kind === 'train' ? modelName : `${String(teacher)} -> ${modelName}`} with ${recipe.name} on ${base.data}; run directory ${runDir}`);
  let result: RunResult;
  try {
    const hooks = { onStep: progress.onStep, onEpoch: progress.onEpoch, onNote: (m: string) => out.log(m), signal: controller.signal };
    result = kind === 'train' ? await train(runOptions(hooks) as TrainOptions) : await distill(runOptions(hooks) as DistillOptions);
  } finally {
    progress.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  result.student.dispose();

  const summary = {
    runDir,
    interrupted: result.interrupted,
    best: result.best,
    last: result.last ?? null,
    student: result.interrupted ? null : runPaths(runDir).student,
    config: result.config,
  };
  if (result.interrupted || controller.signal.aborted) {
    if (result.interrupted) {
      out.log(`interrupted: checkpoint written to ${runPaths(runDir).checkpoint}`);
      out.log(`resume with: ${resumeCommand(runDir)}`);
      if (out.json) out.result(summary, () => '');
      return EXIT_INTERRUPTED;
    }
  }
  out.result(summary, () => {
    const lines = [`run directory: ${runDir}`];
    if (result.last) {
      const t = result.last.test;
      lines.push(`last epoch ${result.last.epoch}: top1 ${pct(t.top1)} top5 ${pct(t.top5)} ece ${t.ece.toFixed(4)} nll ${t.nll.toFixed(4)}`);
    }
    if (result.best) lines.push(`best: top1 ${pct(result.best.top1)} at epoch ${result.best.epoch} (${runPaths(runDir).best})`);
    lines.push(`exported student (no heads): ${runPaths(runDir).studentModel}`);
    return lines.join('\n');
  });
  return EXIT_OK;
}
