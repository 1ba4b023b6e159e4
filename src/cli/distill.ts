/** `cds-distill distill`: distil a zoo student from a frozen teacher. */
import { Command } from 'commander';
import { TEACHER_INPUT } from '../train/options.js';
import { examples, parserOf } from './common.js';
import { addRunOptions, methodHelp, modelHelp, runTraining } from './run.js';

/** Parse --teacher-input: raw | unit | standardized | MEAN/STD (comma-separated per channel, [0, 1] scale). */
export const parseTeacherInput = parserOf(TEACHER_INPUT);

export function registerDistill(program: Command, exit: (code: number) => void): void {
  const cmd = new Command('distill')
    .description('distil a student from the zoo from a frozen teacher and write a run directory');
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
