/**
 * `cds-distill demo`: the main job on a fresh machine. On the bundled Fashion-MNIST slice, take the CDS-trained
 * teacher that ships in teachers/, distil a small student with ce, kd and cds-kd on a short budget, and print a
 * table: top-1, ECE, parameters and latency per image, teacher vs students, and where the exported students are.
 */
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { loadTrainTest, packageRoot } from '../data/index.js';
import { loadTeacher } from '../teacher/index.js';
import { distill, evaluate } from '../train/index.js';
import type { ClassificationMetrics } from '../train/index.js';
import { measureLatency, withModelNormalization } from '../train/saved-models.js';
import { countModelParams } from '../student/params.js';
import { addRuntimeOptions, CliError, count, examples, keyValue, list, Output, pct, positiveInt, positiveNumber, startBackend, table } from './common.js';
import { Progress } from './progress.js';
import { backendReport, WASM_THREADS_ENV } from '../runtime/index.js';
import { scopeMethodOptions } from '../report/index.js';
import { getMethod, resolveMethodOptions } from '../methods/index.js';

/**
 * The demo's wasm threads: 2 on a machine with 2+ cores, unless CDS_WASM_THREADS says otherwise (then undefined: the
 * variable decides). A fresh machine without oneDNN runs the demo on wasm, where 2 threads took it from 5 min 59 s to
 * 4 min 53 s on 2 idle cores, same figures (the README); with the other core busy, threads are slower (CDS_WASM_THREADS=1 turns
 * them off). Other commands keep wasm single-threaded unless asked.
 */
export function demoWasmThreads(cores: number = availableParallelism()): number | undefined {
  if (process.env[WASM_THREADS_ENV]?.trim()) return undefined;
  return cores >= 2 ? 2 : undefined;
}

/** The teacher that ships with the package (see the README for the command that trained it). */
export const DEMO_TEACHER = 'resnet20-fashion-cds';

/**
 * The demo's method options, under the user's `--method-option`s. CDS-KD's view 1 without cutout: on the demo's 300
 * steps the recipe's hole (half the image side) costs its student about five points of top-1 (3 seeds: 74.9% without
 * it, 69.7% with it, ce 72.3%; results/demo-ablation/); cutout is a regulariser for the paper's 200-300 epochs.
 */
export const DEMO_METHOD_OPTIONS: Readonly<Record<string, unknown>> = { 'cds-kd.cutout': 0 };

interface Row {
  readonly name: string;
  readonly method: string;
  /** The method options the demo changed from the method's defaults (e.g. cds-kd's cutout). */
  readonly methodOptions?: Readonly<Record<string, unknown>>;
  readonly model: string;
  readonly top1: number;
  readonly top5: number;
  readonly ece: number;
  readonly nll: number;
  readonly params: number;
  readonly latencyMs: number;
  readonly seconds: number;
  readonly exported?: string;
}

/** The options of a method that differ from its defaults (what the table shows beside its name). */
function changedOptions(method: string, options: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> {
  const defaults = getMethod(method).defaults;
  return Object.fromEntries(Object.entries(options ?? {}).filter(([k, v]) => defaults[k] !== v));
}

function row(name: string, method: string, model: string, m: ClassificationMetrics, params: number, latencyMs: number, seconds: number, exported?: string, methodOptions?: Readonly<Record<string, unknown>>): Row {
  const changed = name === 'student' ? changedOptions(method, methodOptions) : {};
  return {
    name, method, ...(Object.keys(changed).length > 0 ? { methodOptions: changed } : {}), model,
    top1: m.top1, top5: m.top5, ece: m.ece, nll: m.nll, params, latencyMs, seconds, ...(exported ? { exported } : {}),
  };
}

/** "cds-kd cutout=0": a method with the options it runs with that are not its defaults. */
function methodLabel(method: string, options: Readonly<Record<string, unknown>> | undefined): string {
  return [method, ...Object.entries(changedOptions(method, options)).map(([k, v]) => `${k}=${String(v)}`)].join(' ');
}

export function registerDemo(program: Command, exit: (code: number) => void): void {
  const cmd = new Command('demo')
    .description('distil a small student from the bundled CDS teacher on the bundled Fashion-MNIST slice with ce, kd and cds-kd, and compare them (a few minutes)')
    .option('--out <dir>', 'where the runs and exported students go (a rerun replaces them)', './cds-distill-demo')
    .option('--teacher <path>', `teacher (default: the bundled teachers/${DEMO_TEACHER})`)
    .option('--student <name>', 'zoo model for the students', 'resnet8')
    .option('--methods <list>', 'comma-separated methods to compare', list, ['ce', 'kd', 'cds-kd'])
    .option('--limit <n>', 'training images (stratified from the 6000 of the slice)', positiveInt, 500)
    .option('--test-limit <n>', 'test images (the slice has 1000)', positiveInt)
    .option('--epochs <n>', 'epochs per student', positiveInt, 20)
    .option('--batch-size <n>', 'images per step', positiveInt, 32)
    .option('--lr <x>', 'initial learning rate (cosine schedule)', positiveNumber, 0.05)
    .option(
      '--method-option <key=value>',
      `method option (repeatable; key=value for every method that has it, method.key=value for one), over the demo's ` +
        Object.entries(DEMO_METHOD_OPTIONS).map(([k, v]) => `${k}=${String(v)}`).join(', '),
      keyValue,
    )
    .addOption(new Option('--quick', 'tiny budget for smoke tests').hideHelp());
  addRuntimeOptions(cmd);
  cmd
    .addHelpText(
      'after',
      examples([
        'cds-distill demo',
        'cds-distill demo --out /tmp/demo --methods ce,kd,cds-kd,dkd --epochs 3',
        'cds-distill demo --method-option cds-kd.cutout=0.5   # cds-kd with the published view 1 (cutout)',
        'cds-distill demo --json > demo.json',
      ]),
    )
    .action(async (opts: Record<string, unknown>) => {
      const started = performance.now();
      const out = new Output(opts);
      const quick = opts['quick'] === true;
      const methods = [...new Set((opts['methods'] as string[]).map((m) => getMethod(m).name))];
      // The demo's own options for the methods it runs, each replaced by the user's for that method (checked before
      // any data or teacher loads).
      const demoOptions = scopeMethodOptions(methods, Object.fromEntries(Object.entries(DEMO_METHOD_OPTIONS).filter(([k]) => methods.includes(k.split('.')[0]!))));
      const userOptions = scopeMethodOptions(methods, (opts['methodOption'] as Record<string, unknown> | undefined) ?? {});
      const methodOptions = Object.fromEntries(methods.map((m) => [m, resolveMethodOptions(getMethod(m), { ...demoOptions[m], ...userOptions[m] })]));
      const wasmThreads = demoWasmThreads();
      const backend = await startBackend(opts['backend'] as string, out, wasmThreads !== undefined ? { threads: wasmThreads } : {});
      const threads = backend === 'wasm' ? (backendReport()?.threads ?? 1) : undefined;
      // Threads that could not be enabled: wasm runs single-threaded, and says why.
      if (backend === 'wasm' && backendReport()?.note !== undefined) out.log(`wasm: ${backendReport()!.note!}`);
      const outDir = resolve(opts['out'] as string);
      const limit = quick ? Math.min(200, opts['limit'] as number) : (opts['limit'] as number);
      const testLimit = quick ? 200 : (opts['testLimit'] as number | undefined);
      const epochs = quick ? 1 : (opts['epochs'] as number);
      const seed = (opts['seed'] as number | undefined) ?? 0;
      const teacherPath = (opts['teacher'] as string | undefined) ?? join(packageRoot(), 'teachers', DEMO_TEACHER);

      const { train, test } = await loadTrainTest('fashion-mnist-slice', { limit, testLimit });
      out.log(`demo on ${backend}${threads !== undefined ? ` (${threads} thread${threads === 1 ? '' : 's'})` : ''}: ${train.size} training / ${test.size} test images of the Fashion-MNIST slice; ` +
        `teacher ${teacherPath}; student ${String(opts['student'])} x ${methods.map((m) => methodLabel(m, methodOptions[m])).join(', ')}, ${epochs} epoch(s) each`);
      const teacher = await loadTeacher(teacherPath, {
        expectedClasses: train.classNames.length,
        inputShape: train.inputShape,
        dataNormalization: { mean: train.mean, std: train.std },
      });
      const rows: Row[] = [];
      try {
        const teacherNet = teacher.student?.inferenceModel();
        if (!teacherNet) throw new CliError(`the demo teacher must be a student bundle or run directory (got ${teacherPath})`);
        const t0 = performance.now();
        const tm = evaluate(teacherNet, withModelNormalization(test, teacher.student!.inputSpec));
        rows.push(row('teacher', opts['teacher'] === undefined ? 'cds' : String(teacher.student!.meta['method'] ?? '-'), teacher.student!.name, tm, countModelParams(teacherNet), measureLatency(teacherNet), (performance.now() - t0) / 1000));

        for (const method of methods) {
          const progress = new Progress(out, { label: method });
          const runDir = join(outDir, method);
          const s0 = performance.now();
          const result = await distill({
            data: { train, test },
            teacher,
            student: opts['student'] as string,
            method,
            methodOptions: methodOptions[method] ?? {},
            epochs,
            batchSize: opts['batchSize'] as number,
            lr: opts['lr'] as number,
            schedule: 'cosine',
            seed,
            out: runDir,
            // The demo's own run directories: running the demo again replaces them.
            force: true,
            ...(quick ? { maxStepsPerEpoch: 2 } : {}),
            onStep: progress.onStep,
            onEpoch: progress.onEpoch,
          });
          progress.stop();
          const seconds = (performance.now() - s0) / 1000;
          const net = result.student.inferenceModel();
          const m = result.last!.test;
          rows.push(row('student', method, result.student.name, m, countModelParams(net), measureLatency(net), seconds, join(runDir, 'student', 'model.json'), methodOptions[method]));
          result.student.dispose();
        }
      } finally {
        teacher.dispose();
      }
      const total = (performance.now() - started) / 1000;
      const json = { backend, ...(threads !== undefined ? { threads } : {}), trainImages: train.size, testImages: test.size, epochs, outDir, seconds: total, rows };
      out.result(json, () => {
        const ce = rows.find((r) => r.method === 'ce' && r.name === 'student');
        const lines = [
          '',
          `Fashion-MNIST slice: ${train.size} training images, ${epochs} epoch(s) per student; ${test.size} test images; backend ${backend}`,
          table(
            ['model', 'method', 'top-1', 'vs ce', 'ECE', 'NLL', 'params', 'latency/image', 'train time'],
            rows.map((r) => [
              `${r.name === 'teacher' ? 'teacher ' : 'student '}${r.model}`,
              methodLabel(r.method, r.methodOptions),
              pct(r.top1),
              r.name === 'student' && ce && r !== ce ? `${r.top1 >= ce.top1 ? '+' : ''}${(100 * (r.top1 - ce.top1)).toFixed(2)}` : '-',
              r.ece.toFixed(4),
              r.nll.toFixed(3),
              count(r.params),
              `${r.latencyMs.toFixed(2)} ms`,
              r.name === 'teacher' ? '-' : `${r.seconds.toFixed(0)} s`,
            ]),
          ),
          ...(rows.some((r) => r.method === 'cds-kd' && r.methodOptions?.['cutout'] === 0)
            ? [
                'cds-kd cutout=0: view 1 without the recipe\'s cutout hole, which costs about 5 points at the demo\'s default',
                'budget (README, "The demo and its teacher"); the published view 1: --method-option cds-kd.cutout=0.5',
              ]
            : []),
          '',
          'Exported students (tfjs LayersModel, no heads):',
          ...rows.filter((r) => r.exported).map((r) => `  ${r.method.padEnd(8)} ${r.exported}`),
          `Runs (config, metrics, checkpoints): ${outDir}`,
          `Total time: ${total.toFixed(0)} s`,
        ];
        return lines.join('\n');
      });
      exit(0);
    });
  program.addCommand(cmd);
}
