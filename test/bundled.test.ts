import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUNDLED_TEACHERS, bundledData, bundledTeacherPath } from '../src/bundled.js';
import { TeacherError } from '../src/teacher/index.js';

describe('what ships in the package', () => {
  it('bundledTeacherPath / bundledData point at the teacher bundle and the slice in this checkout', () => {
    expect(bundledTeacherPath()).toBe(resolve('teachers', 'resnet20-fashion-cds'));
    expect(existsSync(join(bundledTeacherPath(), 'bundle.json'))).toBe(true);
    const data = bundledData();
    expect(data).toEqual({ spec: 'fashion-mnist-slice', dir: resolve('data', 'fashion-mnist-slice') });
    expect(BUNDLED_TEACHERS).toContain('resnet20-fashion-cds');
    expect(() => bundledTeacherPath('nope' as never)).toThrow(TeacherError);
    expect(() => bundledTeacherPath('nope' as never)).toThrow(/no bundled teacher named "nope"; bundled: resnet20-fashion-cds/);
  });

  it('a program importing the built package finds them, and cds-distill/package.json is importable', () => {
    expect(existsSync('dist/src/index.js'), 'run `npm run build` first').toBe(true);
    const script = `
      import { bundledTeacherPath, bundledData, initBackend, loadTeacher } from 'cds-distill';
      import pkg from 'cds-distill/package.json' with { type: 'json' };
      await initBackend('wasm');
      const teacher = await loadTeacher(bundledTeacherPath());
      console.log(JSON.stringify({ teacher: bundledTeacherPath(), data: bundledData(), classes: teacher.numClasses, name: pkg.name }));
      teacher.dispose();
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const r = JSON.parse(out.trim().split('\n').pop()!);
    expect(r).toEqual({
      teacher: resolve('teachers', 'resnet20-fashion-cds'),
      data: { spec: 'fashion-mnist-slice', dir: resolve('data', 'fashion-mnist-slice') },
      classes: 10,
      name: 'cds-distill',
    });
  });
});
