/** `cds-distill train`: train a zoo model with a method that needs no teacher (teachers, ablations, baselines). */
import { Command } from 'commander';
import { examples } from './common.js';
import { addRunOptions, methodHelp, modelHelp, runTraining } from './run.js';

export function registerTrain(program: Command, exit: (code: number) => void): void {
  const cmd = new Command('train')
    .description('train a model from the zoo (a teacher, or a student without a teacher) and write a run directory');
  addRunOptions(cmd, 'train');
  cmd
    .addHelpText(
      'after',
      examples([
        'cds-distill train --model resnet20 --method cds --data fashion-mnist-slice --epochs 10 --batch-size 64 --lr 0.05 --out runs/teacher',
        'cds-distill train --model resnet8 --method ce --data cifar100:./cifar-100-binary --out runs/r8-ce',
        'cds-distill train --config run.yaml --epochs 5        # flags override the file',
        'cds-distill train --out runs/teacher --model resnet20 --resume   # continue an interrupted run',
      ]) +
        methodHelp((needsTeacher) => !needsTeacher) +
        modelHelp(),
    )
    .action(async (_opts: unknown, c: Command) => exit(await runTraining('train', c)));
  program.addCommand(cmd);
}
