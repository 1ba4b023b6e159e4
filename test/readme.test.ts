import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// Every ```ts block of the README is typechecked against the built package (`import ... from 'cds-distill'` resolves
// to dist/ through package.json "exports", as in a user's project), each block its own module. A block known to be
// wrong (the README's old Library example, `z` and `labels` undefined) is checked alongside: it must fail, or the
// harness proves nothing.
const DIR = resolve('node_modules/.cache/cds-distill-readme');

function tsBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

const BROKEN = `import { losses } from 'cds-distill';\nlosses.supConLoss2N(z, labels);\n`;

describe('README', () => {
  it('every ```ts block compiles against the built package (strict)', () => {
    expect(existsSync('dist/src/index.d.ts'), 'run `npm run build` first').toBe(true);
    const blocks = tsBlocks(readFileSync('README.md', 'utf8'));
    // The Library example, Node and browser loading of the export, compare from a program.
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    rmSync(DIR, { recursive: true, force: true });
    mkdirSync(DIR, { recursive: true });
    const files = blocks.map((code, i) => {
      const file = `block-${i + 1}.ts`;
      writeFileSync(join(DIR, file), code);
      return file;
    });
    writeFileSync(join(DIR, 'broken.ts'), BROKEN);
    writeFileSync(join(DIR, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM'], types: ['node'],
        strict: true, noEmit: true, skipLibCheck: true,
      },
      files: [...files, 'broken.ts'],
    }));
    const r = spawnSync(process.execPath, [resolve('node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: DIR, encoding: 'utf8' });
    const errors = r.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
    expect(errors.filter((l) => !l.startsWith('broken.ts')), `README blocks:\n${blocks.map((b, i) => `--- block-${i + 1}.ts\n${b}`).join('\n')}`).toEqual([]);
    expect(errors.filter((l) => l.startsWith('broken.ts')).join('\n')).toMatch(/Cannot find name 'z'/);
  });
});
