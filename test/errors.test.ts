import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as lib from '../src/index.js';
import { CdsDistillError, isCdsUserError } from '../src/errors.js';
import { CliError, EXIT_USAGE, EXIT_USER, UsageError, isUserError, reportError } from '../src/cli/common.js';
import { MetricsLogError } from '../src/train/index.js';
import { Keras3LayoutError } from '../src/io/index.js';
import { getMethod, MethodError } from '../src/methods/index.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('one error base', () => {
  it('no error class of src/ extends Error directly except CdsDistillError', () => {
    const offenders = sources('src').flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/class (\w+) extends Error\b/g)].map((m) => `${file}: ${m[1]}`),
    );
    expect(offenders).toEqual(['src/errors.ts: CdsDistillError']);
  });

  it("every exported error class is a CdsDistillError of kind 'user' (UsageError: 'usage')", () => {
    const made: Array<[string, Error]> = [
      ['ConfigError', new lib.ConfigError('x')],
      ['DataError', new lib.DataError('x', '/some/file')],
      ['ModelError', new lib.ModelError('x')],
      ['MethodError', new lib.MethodError('x')],
      ['TeacherError', new lib.TeacherError('x')],
      ['ModelFileError', new lib.ModelFileError('/f', 'x')],
      ['TrainingDivergedError', new lib.TrainingDivergedError('x', 1, 2, {}, undefined)],
      ['MetricsLogError', new MetricsLogError('x', '/f', 3)],
      ['LockError', new lib.LockError('x', 42)],
      ['CompareError', new lib.CompareError('x')],
      ['CliError', new CliError('x')],
      ['Keras3LayoutError', new Keras3LayoutError('x')],
    ];
    for (const [name, err] of made) {
      expect(err, name).toBeInstanceOf(lib.CdsDistillError);
      expect(err.name, name).toBe(name);
      expect((err as CdsDistillError).kind, name).toBe('user');
      expect(isUserError(err), name).toBe(true);
    }
    const usage = new UsageError('x');
    expect(usage).toBeInstanceOf(CdsDistillError);
    expect(usage.kind).toBe('usage');
    expect(isCdsUserError(usage)).toBe(false);
    expect(isCdsUserError(new CdsDistillError('bug', { kind: 'internal' }))).toBe(false);
    expect(isCdsUserError(new Error('plain'))).toBe(false);
  });

  it('the CLI exit code follows the kind: user 1 without a stack, usage 2, internal asks for a report', () => {
    const lines: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      lines.push(String(s));
      return true;
    });
    // CompareError was missing from the hand-kept list the kind replaces.
    expect(reportError(new lib.CompareError('the runs differ: use another --out'), false)).toBe(EXIT_USER);
    expect(lines.pop()).toBe('error: the runs differ: use another --out\n');
    expect(reportError(new UsageError('--collect and --plan do not go together'), false)).toBe(EXIT_USAGE);
    expect(lines.pop()).toBe('error: --collect and --plan do not go together\n');
    reportError(new CdsDistillError('an invariant broke', { kind: 'internal' }), false);
    expect(lines.pop()).toMatch(/unexpected error: rerun with --verbose/);
  });

  it('a teacher method created without a teacher throws MethodError', () => {
    for (const name of ['kd', 'crd', 'cds-kd']) {
      const recipe = getMethod(name);
      expect(() => recipe.create({ options: recipe.defaults } as never), name).toThrow(MethodError);
    }
  });
});
