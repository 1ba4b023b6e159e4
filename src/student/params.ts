/**
 * Parameter counts as the CIFAR tables count them (PyTorch's `sum(p.numel())` over parameters): every weight, trainable
 * or not (a frozen teacher's weights count too), except BatchNorm's moving statistics and the fixed input
 * normalisation of a raw-pixel export. One rule, for a loaded model and for a saved model.json alike.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { tf } from '../runtime/tf.js';
import { NORMALIZATION_LAYER } from './normalization.js';

/** Whether a weight (by its name, e.g. `conv1/kernel`, `bn1/moving_mean`) counts as a parameter. */
export function isCountedParam(name: string): boolean {
  return !/moving_(mean|variance)$/.test(name) && !name.startsWith(`${NORMALIZATION_LAYER}/`);
}

/** Parameters of a loaded LayersModel (see the module note for what counts). */
export function countModelParams(model: tf.LayersModel): number {
  return model.weights
    .filter((w) => isCountedParam(w.originalName))
    .reduce((s, w) => s + w.shape.reduce<number>((a, d) => a * (d ?? 1), 1), 0);
}

interface ManifestWeight {
  readonly name: string;
  readonly shape: readonly number[];
}

/**
 * Parameters of a saved LayersModel from its model.json's weights manifest, without loading it (same rule as
 * `countModelParams`); `exclude` drops more weights by name (e.g. a bundle's heads). Undefined when the file does not
 * exist; a file that is not JSON throws its SyntaxError.
 */
export async function countSavedModelParams(modelJson: string, exclude?: (name: string) => boolean): Promise<number | undefined> {
  if (!existsSync(modelJson)) return undefined;
  const json = JSON.parse(await readFile(modelJson, 'utf8')) as { weightsManifest?: { weights: ManifestWeight[] }[] };
  let total = 0;
  for (const group of json.weightsManifest ?? []) {
    for (const w of group.weights) {
      if (!isCountedParam(w.name) || exclude?.(w.name)) continue;
      total += w.shape.reduce((a, d) => a * d, 1);
    }
  }
  return total;
}
