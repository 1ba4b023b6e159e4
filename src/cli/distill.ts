/** `cds-distill distill`: distil a zoo student from a frozen teacher. */
import { Command } from 'commander';
import { examples, list, TEACHER_LOGITS_HELP, TEACHER_STAGES_HELP } from './common.js';
import { addRunOptions, methodHelp, modelHelp, runTraining } from './run.js';

export function registerDistill(program: Command, exit: (code: number) => void): void {
  const cmd = new Command('distill')
    .description('distil a student from the zoo from a frozen teacher and write a run directory')
    .option('--teacher <path>', 'teacher: a run directory, a student bundle, or a tfjs model.json (required)')
    .option('--student <name>', 'zoo model to train as the student (required)')
    .option('--teacher-stages <names>', TEACHER_STAGES_HELP, list)
    .option('--teacher-logits <name>', TEACHER_LOGITS_HELP);
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
