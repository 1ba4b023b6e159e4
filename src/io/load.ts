import { tf } from '../runtime/tf.js';
import { ModelFileError } from './errors.js';
import { fileSystemHandler, readModelJSON, resolveModelLocation, unknownLayerError } from './fs-handler.js';

/** Options for loading a LayersModel from disk. */
export interface LoadLayersOptions {
  /** Passed to tf.loadLayersModel: refuse weight files with missing or extra weights (default true). */
  readonly strict?: boolean;
}

/**
 * Load a tfjs LayersModel from a directory (or its model JSON file) with `fileSystemHandler` (Keras 3 files are
 * translated to the Keras 2 layout, see keras3.ts). Every failure is a `ModelFileError` naming the file; an unknown
 * layer class says how to register it; a graph model says it is one.
 */
export async function loadLayersModelFromDir(dirOrFile: string, options: LoadLayersOptions = {}): Promise<tf.LayersModel> {
  const { modelFile } = resolveModelLocation(dirOrFile);
  try {
    return await tf.loadLayersModel(fileSystemHandler(modelFile), { strict: options.strict ?? true });
  } catch (err) {
    throw await layersModelLoadError(modelFile, err);
  }
}

/**
 * The one mapping of a failure to build a LayersModel from `modelFile` to the error a user sees: a `ModelFileError`
 * as is; a graph model says it is one; an unknown layer class says how to register it; anything else names the file.
 */
export async function layersModelLoadError(modelFile: string, err: unknown): Promise<ModelFileError> {
  if (err instanceof ModelFileError) return err;
  if ((await readModelJSON(modelFile).catch(() => undefined))?.format === 'graph-model') {
    return new ModelFileError(modelFile, `${modelFile} is a graph model (format "graph-model"), not a layers model: ` +
      'this needs a layers model (graph models work as a distill --teacher; see cds-distill inspect)', { cause: err });
  }
  const message = (err as Error).message ?? String(err);
  const unknown = /Unknown layer: ([^\s.]+)/.exec(message);
  if (unknown) return unknownLayerError(modelFile, unknown[1]!, undefined, err);
  return new ModelFileError(modelFile, `${modelFile}: cannot build the model: ${message}`, { cause: err });
}

/** Load a tfjs GraphModel from a directory (or its model JSON file) with `fileSystemHandler`. */
export async function loadGraphModelFromDir(dirOrFile: string): Promise<tf.GraphModel> {
  const { modelFile } = resolveModelLocation(dirOrFile);
  try {
    return await tf.loadGraphModel(fileSystemHandler(modelFile));
  } catch (err) {
    if (err instanceof ModelFileError) throw err;
    throw new ModelFileError(modelFile, `${modelFile}: cannot build the graph model: ${(err as Error).message}`,
      { cause: err });
  }
}
