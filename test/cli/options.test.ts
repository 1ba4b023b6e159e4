// The declared options (src/train/options.ts) drive the CLI: every entry is a flag of its commands, --help shows it
// with its default, its parser and the library's validation refuse a bad value with the same words, and one entry
// added to the schema reaches train/distill/compare's flags, --help, validation and compare's runs with nothing else.
import { afterEach, describe, expect, it } from 'vitest';
import type { Command, Option } from 'commander';
import { buildProgram } from '../../src/cli/program.js';
import { declaredValues, helpOf } from '../../src/cli/options.js';
import {
  choice,
  FRACTION,
  INTEGER,
  invalidOption,
  NAMES,
  NON_NEGATIVE_NUMBER,
  OPTIONS,
  optionsOf,
  POSITIVE_INT,
  POSITIVE_INTS,
  POSITIVE_NUMBER,
  TEACHER_INPUT,
  UNIT_INTERVAL,
} from '../../src/train/options.js';
import type { OptionCommand, OptionSpec, ValueKind } from '../../src/train/options.js';
import { planRuns, resolveSetup } from '../../src/report/index.js';
import { configDifferences } from '../../src/report/runs.js';
import { resolveHyperparameters } from '../../src/train/index.js';
import { buildReport, markdownReport } from '../../src/report/table.js';

const COMMANDS: readonly OptionCommand[] = ['train', 'distill', 'compare'];

function command(name: OptionCommand): Command {
  const cmd = buildProgram(() => undefined).commands.find((c) => c.name() === name);
  if (!cmd) throw new Error(`no ${name} command`);
  return cmd;
}

function optionOf(cmd: Command, spec: OptionSpec): Option {
  const long = spec.flag.split(' ')[0]!;
  const o = cmd.options.find((x) => x.long === long);
  if (!o) throw new Error(`${cmd.name()} has no ${long}`);
  return o;
}

/** A value each kind refuses, as flag text and as a library value. */
const BAD = new Map<ValueKind<never>, [string, unknown]>([
  [POSITIVE_INT, ['0', 0]],
  [INTEGER, ['1.5', 1.5]],
  [POSITIVE_NUMBER, ['-1', -1]],
  [NON_NEGATIVE_NUMBER, ['-0.5', -0.5]],
  [UNIT_INTERVAL, ['1', 1]],
  [FRACTION, ['1.5', 1.5]],
  [POSITIVE_INTS, ['4,0', [4, 0]]],
  [NAMES, [' , ', 7]],
  [TEACHER_INPUT, ['0.5/0', { mean: [0.5], std: [0] }]],
] as [ValueKind<never>, [string, unknown]][]);

/** Commander's parse of a flag's text: the option's parser, as commander calls it. */
function parse(option: Option, text: string): unknown {
  const parser = (option as unknown as { parseArg?: (v: string, prev: unknown) => unknown }).parseArg;
  return parser ? parser(text, undefined) : text;
}

describe('the option schema drives the CLI', () => {
  it('every entry is a flag of each of its commands, in --help with its default; no command has undeclared run options', () => {
    for (const name of COMMANDS) {
      const cmd = command(name);
      const help = cmd.helpInformation().replace(/\s+/g, ' ');
      for (const spec of optionsOf(name)) {
        optionOf(cmd, spec);
        // The help line (wrapped by commander: compare with whitespace collapsed) names the flag and the default.
        expect(help, `${name} ${spec.flag}`).toContain(`${spec.flag} ${helpOf(spec, name)}`.replace(/\s+/g, ' '));
        const d = spec.default?.(name);
        if (d !== undefined) expect(helpOf(spec, name)).toContain(`(default: ${d})`);
      }
      // What is not declared is the shared --config/--dry-run and the runtime's options.
      const declared = new Set(optionsOf(name).map((s) => s.flag.split(' ')[0]));
      const others = cmd.options.map((o) => o.long!).filter((l) => !declared.has(l));
      expect(others.sort()).toEqual(['--backend', '--config', '--dry-run', '--json', '--verbose']);
    }
  });

  it('a bad value is refused by its kind, with the same words on the command line and in the library', () => {
    let checked = 0;
    for (const name of COMMANDS) {
      const cmd = command(name);
      for (const spec of optionsOf(name)) {
        const option = optionOf(cmd, spec);
        const choices = (spec.kind as { choices?: readonly string[] }).choices;
        if (choices !== undefined) {
          expect(option.argChoices).toEqual(choices);
          expect(invalidOption(name, { [spec.key]: 'nope' })).toBe(`${spec.key} must be ${spec.kind.expected}, got nope`);
          checked++;
          continue;
        }
        const bad = BAD.get(spec.kind as ValueKind<never>);
        if (bad === undefined) continue; // names and paths: any text
        expect(() => parse(option, bad[0]), `${name} ${spec.flag} ${bad[0]}`).toThrow(`expected ${spec.kind.expected}.`);
        expect(invalidOption(name, { [spec.key]: bad[1] })).toBe(`${spec.key} must be ${spec.kind.expected}, got ${typeof bad[1] === 'object' ? JSON.stringify(bad[1]) : String(bad[1])}`);
        checked++;
      }
    }
    // momentum, lr, epochs, ... on three commands: the loop above did check something.
    expect(checked).toBeGreaterThan(30);
  });
});

describe('one entry added to the schema', () => {
  const added: OptionSpec<number> = {
    key: 'gradClip',
    flag: '--grad-clip <x>',
    kind: POSITIVE_NUMBER,
    help: 'clip the gradient norm',
    default: () => 'no clipping',
    commands: ['train', 'distill', 'compare'],
    config: 'given',
    describe: (v) => `gradients clipped at ${v}`,
  };
  const mode: OptionSpec<string> = {
    key: 'mixMode',
    flag: '--mix-mode <m>',
    kind: choice(['a', 'b']),
    help: 'how to mix',
    commands: ['distill'],
  };
  const list = OPTIONS as OptionSpec[];
  afterEach(() => {
    for (const spec of [added, mode]) if (list.includes(spec as OptionSpec)) list.splice(list.indexOf(spec as OptionSpec), 1);
  });

  it('is a flag with help, default and check on its commands, read back by name, and reaches every compared run', () => {
    list.push(added as OptionSpec, mode as OptionSpec);
    for (const name of ['train', 'distill', 'compare'] as const) {
      const cmd = command(name);
      expect(cmd.helpInformation().replace(/\s+/g, ' ')).toContain('--grad-clip <x> clip the gradient norm (default: no clipping)');
      expect(() => parse(optionOf(cmd, added as OptionSpec), '0')).toThrow('expected a positive number.');
      expect(declaredValues({ gradClip: 2 }, name)).toMatchObject({ gradClip: 2 });
      expect(invalidOption(name, { gradClip: -1 })).toBe('gradClip must be a positive number, got -1');
    }
    expect(optionOf(command('distill'), mode as OptionSpec).argChoices).toEqual(['a', 'b']);
    expect(() => optionOf(command('train'), mode as OptionSpec)).toThrow(/train has no --mix-mode/);

    // compare: validated, handed to every run (argv and options), and named in the report.
    const setup = resolveSetup({ teacher: 'T', student: 'resnet8', data: 'd', methods: ['kd'], seeds: 1, gradClip: 0.5 } as never);
    const run = planRuns(setup, '/o')[0]!;
    expect(run.argv.join(' ')).toContain('--grad-clip 0.5');
    expect(run.options).toMatchObject({ gradClip: 0.5 });
    expect(() => resolveSetup({ teacher: 'T', student: 'resnet8', data: 'd', gradClip: 0 } as never)).toThrow('gradClip must be a positive number, got 0');
    const report = markdownReport(buildReport(setup, null, [], []), { curves: 'c.svg', bars: 'b.svg' });
    expect(report).toContain('gradients clipped at 0.5');
  });
});

describe('run options compare used to drop, and per-model defaults', () => {
  it('--teacher-input reaches every compared run (argv, options) and the conflict check of an existing run', () => {
    const setup = resolveSetup({ teacher: 'T', student: 'resnet8', data: 'd', methods: ['kd', 'crd'], seeds: 1, teacherInput: { mean: [0.5], std: [0.25] } });
    for (const run of planRuns(setup, '/o')) {
      expect(run.argv.join(' ')).toContain('--teacher-input 0.5/0.25');
      expect(run.options.teacherInput).toEqual({ mean: [0.5], std: [0.25] });
      // A run directory started with another teacher input (config.json records the CLI form) is a conflict.
      const started = { method: run.method, model: 'resnet8', data: 'd', seed: 0, epochs: setup.epochs, teacherInput: 'raw' };
      expect(configDifferences(run, started)).toEqual(['teacher-input "raw" (asked: "0.5/0.25")']);
      expect(configDifferences(run, { ...started, teacherInput: '0.5/0.25' })).toEqual([]);
    }
  });

  it("the distillation lr is the zoo entry's where it has one (any of its names), the recipe's otherwise", () => {
    for (const name of ['MobileNetV2', 'mobile_half', 'ShuffleV1', 'shufflenet_v2']) {
      expect(resolveHyperparameters('distill', {}, name).lr, name).toBe(0.01);
      expect(resolveHyperparameters('train', {}, name).lr, name).toBe(0.1);
    }
    expect(resolveHyperparameters('distill', {}, 'resnet8').lr).toBe(0.05);
    expect(resolveHyperparameters('distill', { lr: 0.2 }, 'MobileNetV2').lr).toBe(0.2);
  });
});
