/** The cds-distill command line: one commander program, one file per command. */
import { Command } from 'commander';
import { registerBench } from './bench.js';
import { registerCompare } from './compare.js';
import { EXIT_USAGE, examples, reportError } from './common.js';
import { registerDemo } from './demo.js';
import { registerDistill } from './distill.js';
import { registerEval } from './eval.js';
import { registerExport } from './export.js';
import { registerInspect } from './inspect.js';
import { registerTrain } from './train.js';

export const VERSION = '0.1.0';

/** Build the program. Commands set their exit code through `exit`; errors propagate to `runCli`. */
export function buildProgram(exit: (code: number) => void = (c) => (process.exitCode = c)): Command {
  const program = new Command('cds-distill')
    .description('Knowledge distillation for TensorFlow.js with Contrastive Deep Supervision (CDS) and the classic baselines')
    .version(VERSION)
    .showSuggestionAfterError(true)
    .configureOutput({ outputError: () => undefined })
    .exitOverride();
  registerTrain(program, exit);
  registerDistill(program, exit);
  registerEval(program, exit);
  registerExport(program, exit);
  registerCompare(program, exit);
  registerInspect(program, exit);
  registerBench(program, exit);
  registerDemo(program, exit);
  for (const cmd of program.commands) {
    cmd.exitOverride();
    // Errors are printed once, as one line, by reportError.
    cmd.configureOutput({ outputError: () => undefined });
  }
  program.addHelpText(
    'after',
    examples([
      'cds-distill demo                                   # distil on the bundled Fashion-MNIST slice (a few minutes)',
      'cds-distill train --model resnet20 --method cds --data fashion-mnist --epochs 30 --out runs/teacher',
      'cds-distill distill --teacher runs/teacher --student resnet8 --method cds-kd --data fashion-mnist --out runs/student',
      'cds-distill eval runs/student',
      'cds-distill export runs/student --out models/resnet8',
      'cds-distill inspect resnet18 --classes 100',
      'cds-distill bench --model resnet18 --method cds --batch-size 32 --input 32x32x3 --classes 100 --steps 3 --json',
    ]) + '\nExit codes: 0 success, 1 user error, 2 usage error, 130 interrupted.\n',
  );
  return program;
}

/** Run the CLI on `argv` (without node and the script); resolves to the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  process.exitCode = 0;
  let code: number | undefined;
  const program = buildProgram((c) => (code = c));
  if (argv.length === 0) {
    program.outputHelp({ error: true });
    return EXIT_USAGE;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    const command = program.commands.find((c) => argv.includes(c.name()))?.name();
    return reportError(err, argv.includes('--verbose'), `cds-distill ${command ? `${command} ` : ''}--help`);
  }
  return code ?? 0;
}
