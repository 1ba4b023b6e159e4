/**
 * The run directory's layout: the one place its paths are spelled (see docs/ARCHITECTURE.md, "The run directory"),
 * and the one order in which a saved student bundle is looked for in a directory a user names.
 *
 *   <run>/config.json      the run's resolved configuration (RunConfig; src/run/config.ts)
 *   <run>/metrics.jsonl    one EpochMetrics line per finished epoch (src/run/metrics-log.ts)
 *   <run>/checkpoint/      everything a resume needs; its student bundle is checkpoint/student/ (src/train/checkpoint.ts)
 *   <run>/best/            the best epoch's student bundle with heads
 *   <run>/student/         the exported bare student (model.json, no bundle.json)
 *   <run>/run.lock         the live process that owns the directory (src/run/lock.ts)
 */
import { stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BUNDLE_FILE } from '../student/bundle.js';

export const CONFIG_FILE = 'config.json';
export const METRICS_FILE = 'metrics.jsonl';
export const CHECKPOINT_DIR = 'checkpoint';
export const BEST_DIR = 'best';
export const STUDENT_DIR = 'student';
/** The run directory's lock file (see `DirectoryLock`). */
export const RUN_LOCK = 'run.lock';
/** The student bundle inside a checkpoint. */
export const CHECKPOINT_STUDENT_DIR = join(CHECKPOINT_DIR, 'student');

/** What a run writes into its run directory (what `force` replaces). */
export const RUN_FILES: readonly string[] = [CONFIG_FILE, METRICS_FILE, CHECKPOINT_DIR, BEST_DIR, STUDENT_DIR];

/** The paths of one run directory. */
export interface RunPaths {
  readonly dir: string;
  readonly config: string;
  readonly metrics: string;
  readonly checkpoint: string;
  readonly checkpointStudent: string;
  readonly best: string;
  readonly student: string;
  /** The exported student's model.json. */
  readonly studentModel: string;
  readonly lock: string;
}

export function runPaths(runDir: string): RunPaths {
  return {
    dir: runDir,
    config: join(runDir, CONFIG_FILE),
    metrics: join(runDir, METRICS_FILE),
    checkpoint: join(runDir, CHECKPOINT_DIR),
    checkpointStudent: join(runDir, CHECKPOINT_STUDENT_DIR),
    best: join(runDir, BEST_DIR),
    student: join(runDir, STUDENT_DIR),
    studentModel: join(runDir, STUDENT_DIR, 'model.json'),
    lock: join(runDir, RUN_LOCK),
  };
}

/**
 * Where a student bundle may sit in a directory a user names, in order of preference: the directory itself (a
 * bundle), a run's best/ (the best model), its last checkpoint (checkpoint/student/, or a bundle saved directly in
 * checkpoint/), and student/ (for a checkpoint directory given itself; a run's exported student/ has no bundle.json).
 * Used by loadTeacher, loadModel (eval), exportRun and the comparison report alike.
 */
export const BUNDLE_LOOKUP_ORDER: readonly string[] = ['', BEST_DIR, CHECKPOINT_STUDENT_DIR, CHECKPOINT_DIR, STUDENT_DIR];

/** The lookup order in words, for "looked for ..." messages. */
export const BUNDLE_LOOKUP_TEXT =
  `${BUNDLE_FILE} (a student bundle), ${BEST_DIR}/${BUNDLE_FILE}, ${CHECKPOINT_STUDENT_DIR}/${BUNDLE_FILE}, ` +
  `${CHECKPOINT_DIR}/${BUNDLE_FILE} (a run directory), ${STUDENT_DIR}/${BUNDLE_FILE} (a checkpoint directory)`;

/**
 * The first directory of BUNDLE_LOOKUP_ORDER under `dir` that holds a bundle.json; `prefer: 'last'` tries the last
 * checkpoint before best/ (exportRun's `from: 'last'`). Undefined when there is none.
 */
export async function findBundleDir(dir: string, prefer: 'best' | 'last' = 'best'): Promise<string | undefined> {
  const order = prefer === 'best'
    ? BUNDLE_LOOKUP_ORDER
    : ['', CHECKPOINT_STUDENT_DIR, CHECKPOINT_DIR, BEST_DIR, STUDENT_DIR];
  for (const sub of order) {
    const candidate = join(dir, sub);
    if ((await kindOf(join(candidate, BUNDLE_FILE))) === 'file') return candidate;
  }
  return undefined;
}

/**
 * The bundle a file names: its directory when the file is a bundle's bundle.json or the model.json beside one (a
 * bundle's model.json has outputs beyond the logits: only the bundle says which is which); otherwise undefined.
 */
export async function bundleDirOfFile(file: string): Promise<string | undefined> {
  const dir = dirname(file);
  const name = basename(file);
  if (name === BUNDLE_FILE) return dir;
  return name === 'model.json' && (await kindOf(join(dir, BUNDLE_FILE))) === 'file' ? dir : undefined;
}

/** 'dir', 'file', or undefined when nothing (or nothing readable) is there. Never throws. */
export async function kindOf(p: string): Promise<'dir' | 'file' | undefined> {
  try {
    return (await stat(p)).isDirectory() ? 'dir' : 'file';
  } catch {
    return undefined;
  }
}
