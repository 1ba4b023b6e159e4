import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, errorLines, json, tempDir } from './helpers.js';

const COMMANDS = ['train', 'distill', 'eval', 'export', 'inspect', 'bench', 'demo'];
const tmp = tempDir('usage');
afterAll(() => tmp.cleanup());

describe('help', () => {
  it('lists the commands with examples and exit codes', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toContain('Exit codes');
  });

  it.each(COMMANDS)('%s --help shows its options and an example', async (command) => {
    const r = await cli([command, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: cds-distill ${command}`);
    expect(r.stdout).toContain('--backend <name>');
    expect(r.stdout).toContain('--json');
    expect(r.stdout).toMatch(new RegExp(`Examples:\\n  \\$ cds-distill ${command}`));
  });

  it('train --help lists the methods and models; the common option names are there', async () => {
    const r = await cli(['train', '--help']);
    for (const opt of ['--data', '--model', '--method', '--method-option', '--epochs', '--batch-size', '--lr', '--out', '--limit',
      '--test-limit', '--labeled-fraction', '--resume', '--max-steps', '--config', '--dry-run', '--seed', '--verbose']) {
      expect(r.stdout).toContain(opt);
    }
    expect(r.stdout).toMatch(/^  cds-simclr /m);
    expect(r.stdout).not.toMatch(/^  cds-kd /m); // needs a teacher: distill's list
    expect(r.stdout).toContain('wrn_40_2');
    const d = await cli(['distill', '--help']);
    expect(d.stdout).toMatch(/^  cds-kd /m);
    expect(d.stdout).toContain('--teacher <path>');
    expect(d.stdout).toContain('--student <name>');
  });
});

describe('usage errors exit 2', () => {
  it('no command: help on stderr', async () => {
    const r = await cli([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Usage: cds-distill');
    expect(r.stdout).toBe('');
  });

  it('unknown command, with a suggestion', async () => {
    const r = await cli(['trian']);
    expect(r.code).toBe(2);
    expect(errorLines(r)).toEqual(["error: unknown command 'trian' (Did you mean train?) (see cds-distill --help)"]);
  });

  it('unknown option', async () => {
    const r = await cli(['train', '--model', 'resnet8', '--epoch', '3']);
    expect(r.code).toBe(2);
    expect(errorLines(r)[0]).toMatch(/unknown option '--epoch'.*see cds-distill train --help/);
  });

  it('missing required option or argument', async () => {
    const a = await cli(['train', '--epochs', '1']);
    expect(a.code).toBe(2);
    expect(errorLines(a)[0]).toMatch(/required option --model not specified/);
    const b = await cli(['distill', '--student', 'resnet8']);
    expect(b.code).toBe(2);
    expect(errorLines(b)[0]).toMatch(/required option --teacher not specified/);
    const c = await cli(['eval']);
    expect(c.code).toBe(2);
    expect(errorLines(c)[0]).toMatch(/missing required argument 'model'/);
  });
});

describe('user errors exit 1 with one line and no stack trace', () => {
  const cases: [string, string[], RegExp][] = [
    ['bad option value', ['train', '--model', 'resnet8', '--epochs', 'abc', '--dry-run'], /--epochs <n>' argument 'abc' is invalid\. expected a positive integer/],
    ['bad choice', ['bench', '--backend', 'gpu'], /Allowed choices are auto, tensorflow, onednn, wasm, cpu/],
    ['bad key=value', ['train', '--model', 'resnet8', '--method-option', 'T', '--dry-run'], /expected key=value/],
    ['unknown model', ['inspect', 'resnet9000'], /unknown model 'resnet9000' \(cds-distill inspect --help lists the zoo\); valid names: resnet8, /],
    ['unknown model (train)', ['train', '--model', 'resnet9000', '--dry-run'], /unknown model 'resnet9000'/],
    ['unknown method', ['train', '--model', 'resnet8', '--method', 'kdd', '--dry-run'], /unknown method "kdd"; choose one of: ce, /],
    ['unknown method option', ['distill', '--teacher', 'x', '--student', 'resnet8', '--method', 'kd', '--method-option', 'tau=2', '--dry-run'], /method kd has no option "tau"; its options are: /],
    ['method needs a teacher', ['train', '--model', 'resnet8', '--method', 'kd', '--dry-run'], /use cds-distill distill --teacher PATH/],
    ['missing model file', ['eval', 'no/such/run', '--data', 'synthetic'], /no\/such\/run does not exist \(expected a run directory/],
    ['missing run to export', ['export', 'no/such/run'], /is not a directory/],
    ['missing teacher', ['distill', '--teacher', 'no/such/teacher', '--student', 'resnet8', '--data', 'synthetic:8x8x1:2:16', '--epochs', '1'], /teacher path .*no\/such\/teacher does not exist/],
    ['missing data directory', ['train', '--model', 'resnet8', '--data', 'cifar10:no/such/dir', '--epochs', '1', '--out', 'unused'], /no\/such\/dir/],
    ['bad data spec', ['train', '--model', 'resnet8', '--data', 'imagenet', '--epochs', '1'], /imagenet/],
    ['missing config file', ['train', '--config', 'no-such.yaml'], /cannot read config file .*no-such\.yaml: no such file/],
    ['--resume without --out', ['train', '--model', 'resnet8', '--resume'], /--resume needs --out DIR/],
    ['--input on a saved model', ['inspect', 'no/such/model.json', '--classes', '3'], /--input and --classes apply to zoo names only/],
  ];
  it.each(cases)('%s', async (_name, args, message) => {
    const r = await cli(args, { cwd: tmp.dir });
    expect(r.code, r.stderr).toBe(1);
    const errors = errorLines(r);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(message);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stdout).toBe('');
  });

  it('--verbose shows the stack trace', async () => {
    const r = await cli(['inspect', 'resnet9000', '--verbose']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^ModelError: unknown model/m);
    expect(r.stderr).toMatch(/^\s+at /m);
  });
});

describe('--config and --dry-run', () => {
  it('prints the resolved configuration; flags override the YAML file; method options merge', async () => {
    const file = join(tmp.dir, 'run.yaml');
    writeFileSync(file, 'model: resnet14\nmethod: cds\nepochs: 7\nbatch-size: 32\nlr: 0.02\nmethodOptions:\n  contrastive: 0.2\n  temperature: 0.1\n');
    const r = await cli(['train', '--config', file, '--epochs', '3', '--method-option', 'temperature=0.5', '--data', 'synthetic', '--out', 'runs/x', '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const c = json(r);
    expect(c).toMatchObject({
      command: 'train',
      model: 'resnet14',
      method: 'cds',
      epochs: 3,
      batchSize: 32,
      lr: 0.02,
      data: 'synthetic',
      out: 'runs/x',
      methodOptions: { ce: 1, contrastive: 0.2, temperature: 0.5, baseTemperature: 0.07 },
      needs: { teacher: false, views: 2, heads: 'projection' },
      backend: 'auto',
    });
    expect(c['fromRecipe']).toContain('momentum');
    expect(c['fromRecipe']).not.toContain('epochs');
    // The recipe's values themselves: the CDS teacher recipe's momentum and decay, milestones scaled to 3 epochs
    // (90/180/280 of 300 -> 1/2/3; 3 is the last epoch, where a drop would not matter).
    expect(c).toMatchObject({ momentum: 0.9, weightDecay: 5e-4, seed: 0, schedule: { kind: 'multistep', milestones: [1, 2] } });
  });

  it('reads JSON config files and refuses unknown keys and bad values', async () => {
    const good = join(tmp.dir, 'd.json');
    // --dry-run loads the teacher and the data: the bundled teacher on the bundled slice.
    const teacher = resolve('teachers/resnet20-fashion-cds');
    writeFileSync(good, JSON.stringify({ teacher, student: 'resnet8', method: 'kd', data: 'fashion-mnist-slice', 'method-option': { temperature: 2 } }));
    const r = await cli(['distill', '--config', good, '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toMatchObject({ command: 'distill', teacher, student: 'resnet8', method: 'kd', methodOptions: { temperature: 2 } });

    const unknown = join(tmp.dir, 'u.json');
    writeFileSync(unknown, JSON.stringify({ model: 'resnet8', epoks: 3 }));
    const u = await cli(['train', '--config', unknown, '--dry-run']);
    expect(u.code).toBe(1);
    expect(errorLines(u)[0]).toMatch(/unknown option "epoks"; known options: .*epochs/);

    const bad = join(tmp.dir, 'b.yaml');
    writeFileSync(bad, 'model: resnet8\nepochs: -2\n');
    const b = await cli(['train', '--config', bad, '--dry-run']);
    expect(b.code).toBe(1);
    expect(errorLines(b)[0]).toMatch(/option "epochs" -2 is invalid: expected a positive integer/);
  });
});

describe('inspect', () => {
  it('a zoo model: stages, shapes, parameters and MACs, as text and JSON', async () => {
    const t = await cli(['inspect', 'resnet8', '--input', '28x28x1', '--classes', '10']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/^stage3\s+\d+\s+7x7x64\s/m);
    expect(t.stdout).toContain('feature taps');
    const r = await cli(['inspect', 'resnet20', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = json<{ trainableParams: number; macs: number; groups: { name: string }[]; features: unknown[]; layers?: unknown }>(r);
    // RepDistiller's resnet20 at 100 classes.
    expect(j.trainableParams).toBe(278324);
    expect(j.macs).toBeGreaterThan(40e6);
    expect(j.groups.map((g) => g.name)).toEqual(['input', 'stem', 'stage1', 'stage2', 'stage3', 'head']);
    expect(j.features).toHaveLength(4);
    expect(j.layers).toBeUndefined();
  });
});
