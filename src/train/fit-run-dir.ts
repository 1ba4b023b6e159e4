/**
 * What the training loop (`fit`) reads and writes in its run directory; `src/run` owns the layout. When the run
 * starts: config.json, and either the resume from checkpoint/ (student, method parts and state, optimizer slots, RNG
 * and batcher states, the metrics logged up to it) or a fresh metrics.jsonl. Per epoch: a metrics.jsonl line, best/
 * when top-1 improved, checkpoint/ (also on interruption). At the end: the exported student/. Without a directory
 * nothing is read or written.
 */
import type { Random } from '../runtime/random.js';
import type { Batcher } from '../data/index.js';
import { exportStudent, saveStudentBundle } from '../student/index.js';
import type { Student } from '../student/index.js';
import { disposeMethod } from '../methods/index.js';
import type { MethodRun } from '../methods/index.js';
import { hasCheckpoint, readCheckpoint, writeCheckpoint } from './checkpoint.js';
import type { CheckpointContents, TrainingState } from './checkpoint.js';
import { appendMetricsLog, readMetricsLog, writeMetricsLog } from '../run/metrics-log.js';
import { createRunDir } from '../run/config.js';
import { runPaths } from '../run/paths.js';
import type { RunPaths } from '../run/paths.js';
import type { tf } from '../runtime/tf.js';
import type { EpochMetrics } from './fit.js';

/** What a resume restores into: the run's student, method, optimizer and random sources as built for a fresh run. */
export interface ResumeTarget {
  readonly student: Student;
  readonly method: MethodRun;
  /** Rebuilds the method for the restored student (default: keep `method`). */
  readonly rebuildMethod?: (student: Student) => MethodRun;
  readonly optimizer: tf.Optimizer;
  readonly batcher: Batcher;
  readonly augmentRng: Random;
  readonly methodRng: Random;
}

/** A resumed run: the student and method restored from the checkpoint, where it was, and the epochs logged so far. */
export interface Resumed {
  readonly student: Student;
  readonly method: MethodRun;
  readonly state: TrainingState;
  readonly history: EpochMetrics[];
}

export class FitRunDirectory {
  private constructor(private readonly paths: RunPaths | undefined) {}

  /** The run directory `runDir` (none: nothing is written), created with `config` as its config.json. */
  static async open(runDir: string | undefined, config: unknown): Promise<FitRunDirectory> {
    if (runDir) await createRunDir(runDir, config);
    return new FitRunDirectory(runDir ? runPaths(runDir) : undefined);
  }

  /** The last checkpoint written (what a diverged run keeps), undefined when there is none. */
  lastCheckpoint(): string | undefined {
    const dir = this.paths?.checkpoint;
    return dir && hasCheckpoint(dir) ? dir : undefined;
  }

  /**
   * With `resume` and a checkpoint: dispose `target`'s student and method, restore everything from the checkpoint
   * (the batcher and random sources in place) and keep metrics.jsonl up to its epoch (later epochs, and a torn last
   * line from a crash mid-append, are dropped and trained again). Otherwise start metrics.jsonl empty and return
   * undefined.
   */
  async resumeOrStart(resume: boolean, target: ResumeTarget): Promise<Resumed | undefined> {
    const paths = this.paths;
    if (!paths) return undefined;
    if (!resume || !hasCheckpoint(paths.checkpoint)) {
      await writeMetricsLog(paths.metrics, []);
      return undefined;
    }
    const ckpt = await readCheckpoint(paths.checkpoint);
    target.student.dispose();
    disposeMethod(target.method);
    const student = ckpt.student;
    const method = target.rebuildMethod ? target.rebuildMethod(student) : target.method;
    await ckpt.restoreParts(method.parts);
    await ckpt.restoreOptimizer(target.optimizer);
    if (ckpt.methodState && method.setState) method.setState(ckpt.methodState);
    const state = ckpt.state;
    target.batcher.setState(state.batcher);
    target.augmentRng.setState(state.augmentRng);
    target.methodRng.setState(state.methodRng);
    const history = (await readMetricsLog(paths.metrics)).epochs.filter((m) => m.epoch <= state.epoch);
    await writeMetricsLog(paths.metrics, history);
    return { student, method, state, history };
  }

  /** Write checkpoint/ (replacing the previous one). */
  async saveCheckpoint(contents: CheckpointContents): Promise<void> {
    if (this.paths) await writeCheckpoint(this.paths.checkpoint, contents);
  }

  /** Log a finished epoch to metrics.jsonl and, when its top-1 is the best so far, save the student as best/. */
  async endEpoch(metrics: EpochMetrics, student: Student, improved: boolean): Promise<void> {
    if (!this.paths) return;
    await appendMetricsLog(this.paths.metrics, metrics);
    if (improved) await saveStudentBundle(student, this.paths.best, { epoch: metrics.epoch, top1: metrics.test.top1 });
  }

  /** Export the trained student (heads dropped) as student/. */
  async finish(student: Student): Promise<void> {
    if (this.paths) await exportStudent(student, this.paths.student);
  }
}
