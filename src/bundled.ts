/**
 * What ships inside the package: the demo teacher (teachers/) and the Fashion-MNIST slice (data/), for a program that
 * wants them without knowing where npm put the package.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DataError, fashionSliceDir, packageRoot } from './data/index.js';
import { TeacherError } from './teacher/index.js';

/** The bundled teachers, by name (directories under the package's teachers/). */
export const BUNDLED_TEACHERS = ['resnet20-fashion-cds'] as const;
export type BundledTeacher = (typeof BUNDLED_TEACHERS)[number];

/**
 * Absolute path of a bundled teacher's student bundle directory (default 'resnet20-fashion-cds': a ResNet20 trained with
 * CDS on the Fashion-MNIST slice, 28x28x1 inputs, 10 classes), for `loadTeacher` or `distill({ teacher })`.
 * Throws a TeacherError when the name is unknown or the directory is missing from the installed package.
 */
export function bundledTeacherPath(name: BundledTeacher = 'resnet20-fashion-cds'): string {
  if (!BUNDLED_TEACHERS.includes(name)) {
    throw new TeacherError(`no bundled teacher named ${JSON.stringify(name)}; bundled: ${BUNDLED_TEACHERS.join(', ')}`);
  }
  const dir = join(packageRoot(), 'teachers', name);
  if (!existsSync(join(dir, 'bundle.json'))) {
    throw new TeacherError(`${dir}: the bundled teacher is missing from this installation (reinstall cds-distill)`);
  }
  return dir;
}

/** The bundled data: a dataset spec for `loadTrainTest` / `train({ data })` and where its IDX files are. */
export interface BundledData {
  /** 'fashion-mnist-slice': 6000 training and 1000 test images of Fashion-MNIST (28x28x1, 10 classes). */
  readonly spec: 'fashion-mnist-slice';
  /** Absolute path of the directory holding its four IDX files. */
  readonly dir: string;
}

/** The bundled Fashion-MNIST slice. Throws a DataError when its files are missing from the installed package. */
export function bundledData(): BundledData {
  const dir = fashionSliceDir();
  if (!existsSync(dir)) throw new DataError(`${dir}: the bundled Fashion-MNIST slice is missing from this installation (reinstall cds-distill)`, dir);
  return { spec: 'fashion-mnist-slice', dir };
}
