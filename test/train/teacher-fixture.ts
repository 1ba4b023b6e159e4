import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadStudentBundle, exportStudent } from '../../src/student/index.js';
import { loadTeacher } from '../../src/teacher/index.js';
import type { Teacher } from '../../src/teacher/index.js';

/** The CDS-trained teacher that ships with the package (teachers/<name>/, a student bundle with its heads). */
export function shippedTeacherDir(): string {
  const root = join(process.cwd(), 'teachers');
  const dirs = existsSync(root) ? readdirSync(root).filter((d) => existsSync(join(root, d, 'bundle.json'))) : [];
  if (dirs.length === 0) throw new Error(`no teacher bundle under ${root}: the package ships one (see README)`);
  return join(root, dirs.sort()[0]!);
}

/** The shipped teacher with its projection heads. */
export async function teacherWithHeads(): Promise<Teacher> {
  return loadTeacher(shippedTeacherDir());
}

/** The shipped teacher's bare model exported as a plain LayersModel (no heads): a teacher "from elsewhere". */
export async function plainLayersTeacher(): Promise<Teacher> {
  const student = await loadStudentBundle(shippedTeacherDir());
  const dir = mkdtempSync(join(tmpdir(), 'cds-plain-teacher-'));
  await exportStudent(student, dir);
  student.dispose();
  return loadTeacher(join(dir, 'model.json'));
}
