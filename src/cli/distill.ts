/** `cds-distill distill`: distil a zoo student from a frozen teacher. */
import { Command, InvalidArgumentError } from 'commander';
import type { TeacherInput } from '../teacher/index.js';
import { examples, list, TEACHER_LOGITS_HELP, TEACHER_STAGES_HELP } from './common.js';
import { addRunOptions, methodHelp, modelHelp, runTraining } from './run.js';

/** Parse --teacher-input: raw | unit | standardized | MEAN/STD (comma-separated per channel, [0, 1] scale). */
export function parseTeacherInput(v: string): TeacherInput {
  const t = v.trim();
  if (t === 'raw' || t === 'unit' || t === 'standardized') return t;
  const parts = t.split('/');
  const nums = (s: string | undefined): number[] => (s ?? '').split(',').map((x) => (x.trim() === '' ? NaN : Number(x)));
  const mean = nums(parts[0]);
  const std = nums(parts[1]);
  if (parts.length !== 2 || mean.length !== std.length || !mean.every(Number.isFinite) || !std.every((x) => Number.isFinite(x) && x > 0)) {
    throw new InvalidArgumentError('expected raw, unit, standardized or MEAN/STD (e.g. 0.5,0.5,0.5/0.25,0.25,0.25; std > 0).');
  }
  return { mean, std };
}

export function registerDistill(program: Command, exit: (code: number) => void): void {
  const cmd = new Command('distill')
    .description('distil a student from the zoo from a frozen teacher and write a run directory')
    .option('--teacher <path>', 'teacher: a run directory, a student bundle, or a tfjs model.json (required)')
    .option('--student <name>', 'zoo model to train as the student (required)')
    .option('--teacher-stages <names>', TEACHER_STAGES_HELP, list)
    .option('--teacher-logits <name>', TEACHER_LOGITS_HELP)
    .option(
      '--teacher-input <kind>',
      "what the teacher expects: raw (0..255), unit (0..1), standardized (the data's mean/std) or MEAN/STD per channel " +
        '(e.g. 0.485,0.456,0.406/0.229,0.224,0.225); default: what its files record, else standardized',
      parseTeacherInput,
    );
  addRunOptions(cmd, 'distill');
  cmd
    .addHelpText(
      'after',
      examples([
        'cds-distill distill --teacher teachers/resnet20-fashion-cds --student resnet8 --method cds-kd --data fashion-mnist-slice --epochs 2 --out runs/r8-cdskd',
        'cds-distill distill --teacher runs/r56 --student resnet20 --method kd --method-option temperature=4 --data cifar100:./cifar-100-binary',
        'cds-distill distill --teacher runs/r56 --student resnet20 --method dkd --dry-run   # print the resolved configuration',
        'cds-distill distill --teacher tfjs_graph/model.json --student resnet8 --method kd --teacher-logits Identity --data fashion-mnist',
      ]) +
        methodHelp() +
        modelHelp(),
    )
    .action(async (_opts: unknown, c: Command) => exit(await runTraining('distill', c)));
  program.addCommand(cmd);
}
