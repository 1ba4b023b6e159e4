/**
 * Checkpoints: everything needed to continue a run exactly. Written into a staging directory, then swapped in with a
 * rename, so a crash leaves either the previous checkpoint or the new one, never a torn one.
 *
 *   checkpoint/
 *     student/            the student bundle (backbone + heads, BN moving statistics included)
 *     parts/<name>/       each trainable part of the method (regressors, adaptation layers, embeddings)
 *     optimizer.json      optimizer slot specs   optimizer.bin   their values
 *     method.json         the method's own state (memory banks)   method.bin  its arrays
 *     state.json          epoch, batcher position, RNG states, running averages, best result
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../runtime/tf.js';
import type { RandomState } from '../runtime/random.js';
import type { BatcherState } from '../data/index.js';
import { fileSystemHandler, replaceDirectory, stagingDirFor } from '../io/index.js';
import { loadStudentBundle, saveStudentBundle } from '../student/index.js';
import type { Student } from '../student/index.js';
import type { MethodPart } from '../methods/index.js';

export interface TrainingState {
  /** Epochs fully completed (0-based count). */
  readonly epoch: number;
  /** Steps taken since the start of the run. */
  readonly globalStep: number;
  readonly batcher: BatcherState;
  readonly augmentRng: RandomState;
  readonly methodRng: RandomState;
  /** Sums of the current (partial) epoch's loss terms and how many steps they cover. */
  readonly epochSums: Readonly<Record<string, number>>;
  readonly epochSteps: number;
  readonly epochImages: number;
  readonly epochSeconds: number;
  readonly best: { readonly top1: number; readonly epoch: number } | null;
}

export interface CheckpointContents {
  readonly student: Student;
  readonly parts: readonly MethodPart[];
  readonly optimizer: tf.Optimizer;
  readonly methodState?: { json: unknown; arrays: Record<string, Float32Array> };
  readonly state: TrainingState;
  readonly meta: Record<string, unknown>;
}

async function writeArrays(dir: string, base: string, arrays: Record<string, Float32Array>): Promise<void> {
  const names = Object.keys(arrays);
  const specs = names.map((name) => ({ name, length: arrays[name]!.length }));
  const total = specs.reduce((s, x) => s + x.length, 0);
  const all = new Float32Array(total);
  let offset = 0;
  for (const name of names) {
    all.set(arrays[name]!, offset);
    offset += arrays[name]!.length;
  }
  await writeFile(join(dir, `${base}.json`), JSON.stringify(specs));
  await writeFile(join(dir, `${base}.bin`), new Uint8Array(all.buffer, all.byteOffset, all.byteLength));
}

async function readArrays(dir: string, base: string): Promise<Record<string, Float32Array>> {
  const specs = JSON.parse(await readFile(join(dir, `${base}.json`), 'utf8')) as { name: string; length: number }[];
  const bytes = await readFile(join(dir, `${base}.bin`));
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const out: Record<string, Float32Array> = {};
  let offset = 0;
  for (const s of specs) {
    if (offset + s.length > all.length) throw new Error(`${join(dir, `${base}.bin`)} is shorter than ${base}.json declares`);
    out[s.name] = all.slice(offset, offset + s.length);
    offset += s.length;
  }
  return out;
}

/** Write a checkpoint atomically into `dir` (replacing what is there). */
export async function writeCheckpoint(dir: string, contents: CheckpointContents): Promise<void> {
  const staged = stagingDirFor(dir);
  await mkdir(staged, { recursive: true });
  try {
    await saveStudentBundle(contents.student, join(staged, 'student'), contents.meta);
    for (const part of contents.parts) {
      await part.model.save(fileSystemHandler(join(staged, 'parts', part.name)));
    }
    const slots = await contents.optimizer.getWeights();
    const encoded = await tf.io.encodeWeights(slots);
    // getWeights returns the slot variables themselves plus a fresh iteration-count scalar: dispose only that.
    for (const slot of slots) if (slot.name === 'iter') slot.tensor.dispose();
    await writeFile(join(staged, 'optimizer.json'), JSON.stringify(encoded.specs));
    await writeFile(join(staged, 'optimizer.bin'), new Uint8Array(encoded.data));
    if (contents.methodState) {
      await writeFile(join(staged, 'method.json'), JSON.stringify(contents.methodState.json));
      await writeArrays(staged, 'method-arrays', contents.methodState.arrays);
    }
    await writeFile(join(staged, 'state.json'), JSON.stringify(contents.state, null, 1));
    await replaceDirectory(staged, dir);
  } catch (err) {
    await rm(staged, { recursive: true, force: true });
    throw err;
  }
}

export function hasCheckpoint(dir: string): boolean {
  return existsSync(join(dir, 'state.json'));
}

export interface LoadedCheckpoint {
  readonly student: Student;
  readonly state: TrainingState;
  readonly methodState?: { json: unknown; arrays: Record<string, Float32Array> };
  /** Copy the saved weights into freshly created parts (matched by name). */
  restoreParts(parts: readonly MethodPart[]): Promise<void>;
  /** Restore the optimizer's slots (momentum buffers) in variable order. */
  restoreOptimizer(optimizer: tf.Optimizer): Promise<void>;
}

export async function readCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as TrainingState;
  const student = await loadStudentBundle(join(dir, 'student'));
  let methodState: LoadedCheckpoint['methodState'];
  if (existsSync(join(dir, 'method.json'))) {
    methodState = {
      json: JSON.parse(await readFile(join(dir, 'method.json'), 'utf8')) as unknown,
      arrays: await readArrays(dir, 'method-arrays'),
    };
  }
  return {
    student,
    state,
    methodState,
    restoreParts: async (parts) => {
      for (const part of parts) {
        const saved = await tf.loadLayersModel(fileSystemHandler(join(dir, 'parts', part.name)));
        part.model.setWeights(saved.getWeights());
        saved.dispose();
      }
    },
    restoreOptimizer: async (optimizer) => {
      const specs = JSON.parse(await readFile(join(dir, 'optimizer.json'), 'utf8')) as tf.io.WeightsManifestEntry[];
      const bytes = await readFile(join(dir, 'optimizer.bin'));
      const map = tf.io.decodeWeights(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), specs);
      const tensors = specs.map((s) => ({ name: s.name, tensor: map[s.name]! }));
      await optimizer.setWeights(tensors);
      // The optimizer's variables took their own references to the data.
      tf.dispose(tensors.map((t) => t.tensor));
    },
  };
}
