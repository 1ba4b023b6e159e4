/**
 * The input normalisation a saved student carries inside itself.
 *
 * Training feeds the student `(x / 255 - mean) / std` (per channel, `mean`/`std` of the training split on the [0, 1]
 * scale; see `normalize` in src/data). A saved model (an exported student, a bundle's model.json) must instead take the
 * raw pixels a user has (0..255, the dataset's own [H, W, C] layout), so on saving a first layer named
 * `input_normalization` is inserted right after the input: a standard `DepthwiseConv2D` with a 1x1 kernel and a bias,
 * non-trainable, whose weights encode `x * (1 / (255 std)) + (-mean / std)` per channel (the same float32 arithmetic
 * as the toolkit's own batches). Plain `@tensorflow/tfjs` loads it without any custom class. The model's
 * `userDefinedMetadata` records the same (see `NormalizationMetadata`).
 *
 * On loading for training (`loadStudentBundle`) or evaluation the layer is taken out again, so the toolkit keeps
 * feeding standardized batches and never normalises twice.
 */
import { tf } from '../runtime/tf.js';
import { normalizationCoefficients } from '../data/augment.js';
import { ModelFileError } from '../io/errors.js';
import { loadModelArtifacts } from '../io/fs-handler.js';
import { layersModelLoadError } from '../io/load.js';

type ModelArtifacts = tf.io.ModelArtifacts;

/** Name of the layer that normalises raw pixels inside a saved model. */
export const NORMALIZATION_LAYER = 'input_normalization';

/** Per-channel normalisation on the [0, 1] scale: the model computes (x / 255 - mean) / std of raw pixels x. */
export interface InputNormalization {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/** What a saved student's input is: raw pixels, normalised inside with `mean`/`std`; the class names of its logits. */
export interface StudentInputSpec extends InputNormalization {
  readonly classNames?: readonly string[];
}

/** What a saved model's `userDefinedMetadata` holds (besides anything the caller put there). */
export interface NormalizationMetadata {
  /** Always 'raw': the model takes pixels as they are in the image files. */
  readonly input: 'raw';
  /** The range of the raw pixels: [0, 255]. */
  readonly inputRange: [number, number];
  /** [H, W, C] of one image (channels last). */
  readonly inputShape: number[];
  /** Per channel, [0, 1] scale. */
  readonly mean: number[];
  readonly std: number[];
  /** The layer that computes (x / 255 - mean) / std. */
  readonly normalizationLayer: string;
  /** Class names in logit order (when known). */
  readonly classNames?: string[];
}

type Json = Record<string, unknown>;
/** A Keras inbound-node reference: [layerName, nodeIndex, tensorIndex, kwargs?]. */
type NodeRef = [string, number, number, ...unknown[]];

function modelConfig(artifacts: ModelArtifacts, where: string): { layers: Json[]; inputLayers: NodeRef[]; outputLayers: NodeRef[] } {
  const topology = artifacts.modelTopology as Json | undefined;
  const config = topology?.['config'] as Json | undefined;
  const layers = config?.['layers'];
  const inputLayers = config?.['input_layers'];
  if (!Array.isArray(layers) || !Array.isArray(inputLayers)) {
    throw new ModelFileError(where, `${where}: not a functional tfjs LayersModel topology (no config.layers / input_layers)`);
  }
  return { layers: layers as Json[], inputLayers: inputLayers as NodeRef[], outputLayers: (config?.['output_layers'] ?? []) as NodeRef[] };
}

/** Replace every inbound reference to layer `from` (node 0) by layer `to` (node 0) in the layers and outputs. */
function rewire(layers: Json[], outputLayers: NodeRef[], from: string, to: string, skip: string): void {
  const fix = (ref: NodeRef): void => {
    if (ref[0] === from) ref[0] = to;
  };
  for (const layer of layers) {
    if (layer['name'] === skip) continue;
    for (const node of (layer['inbound_nodes'] ?? []) as NodeRef[][]) node.forEach(fix);
  }
  outputLayers.forEach(fix);
}

function specBytes(spec: tf.io.WeightsManifestEntry): number {
  const n = spec.shape.reduce((a, d) => a * d, 1);
  const q = spec.quantization;
  if (q) return n * (q.dtype === 'uint8' ? 1 : 2);
  if (spec.dtype === 'float32' || spec.dtype === 'int32') return n * 4;
  if (spec.dtype === 'bool') return n;
  throw new Error(`weight ${spec.name}: dtype ${spec.dtype} is not supported here`);
}

/**
 * The artifacts of `artifacts` with the `input_normalization` layer inserted after the input (raw pixels in) and the
 * metadata recorded. `inputShape` [H, W, C] must match the model's input; mean/std need one value per channel. The
 * given artifacts are not modified.
 */
export function insertInputNormalization(
  artifacts: ModelArtifacts,
  inputShape: readonly number[],
  spec: StudentInputSpec,
): ModelArtifacts {
  const c = inputShape[2]!;
  if (spec.mean.length !== c || spec.std.length !== c || !spec.std.every((s) => s > 0)) {
    throw new Error(`input normalisation needs ${c} means and ${c} positive stds, got [${spec.mean.join(', ')}] / [${spec.std.join(', ')}]`);
  }
  const out = structuredClone({ ...artifacts, weightData: undefined }) as ModelArtifacts;
  const { layers, inputLayers, outputLayers } = modelConfig(out, 'model');
  if (inputLayers.length !== 1) throw new Error(`input normalisation needs a model with one input, got ${inputLayers.length}`);
  if (layers.some((l) => l['name'] === NORMALIZATION_LAYER)) {
    throw new Error(`the model already has a layer named ${NORMALIZATION_LAYER}`);
  }
  const inputName = inputLayers[0]![0];

  // Build the layer in a throwaway model to get its exact serialised config and weights.
  const { scale, shift } = normalizationCoefficients(spec);
  let layerJson: Json | undefined;
  let layerSpecs: tf.io.WeightsManifestEntry[] = [];
  let layerData = new ArrayBuffer(0);
  tf.tidy(() => {
    const kernel = tf.tensor4d(scale, [1, 1, c, 1]);
    const bias = tf.tensor1d(shift);
    const input = tf.input({ shape: [...inputShape], name: 'raw_pixels_tmp' });
    const layer = tf.layers.depthwiseConv2d({
      kernelSize: 1,
      depthMultiplier: 1,
      useBias: true,
      trainable: false,
      name: NORMALIZATION_LAYER,
      weights: [kernel, bias],
    });
    const tiny = tf.model({ inputs: input, outputs: layer.apply(input) as tf.SymbolicTensor });
    // getNamedWeights via toJSON/weights: read the values back in the saved order.
    const topology = tiny.toJSON(null, false) as Json;
    layerJson = ((topology['config'] as Json)['layers'] as Json[]).find((l) => l['name'] === NORMALIZATION_LAYER);
    const named = layer.weights.map((w) => ({ name: w.originalName, tensor: w.read() }));
    layerSpecs = named.map(({ name, tensor }) => ({ name, shape: tensor.shape, dtype: 'float32' as const }));
    const bytes = new Uint8Array(named.reduce((s, { tensor }) => s + tensor.size * 4, 0));
    let o = 0;
    for (const { tensor } of named) {
      const v = new Float32Array(tensor.dataSync());
      bytes.set(new Uint8Array(v.buffer), o);
      o += v.byteLength;
    }
    layerData = bytes.buffer;
    tiny.dispose();
  });
  const normLayer = layerJson!;
  normLayer['inbound_nodes'] = [[[inputName, 0, 0, {}]]];
  rewire(layers, outputLayers, inputName, NORMALIZATION_LAYER, NORMALIZATION_LAYER);
  const inputIndex = layers.findIndex((l) => l['name'] === inputName);
  layers.splice(inputIndex + 1, 0, normLayer);

  const original = artifacts.weightData == null ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
  const joined = new Uint8Array(original.byteLength + layerData.byteLength);
  joined.set(new Uint8Array(original), 0);
  joined.set(new Uint8Array(layerData), original.byteLength);
  const metadata: NormalizationMetadata = {
    input: 'raw',
    inputRange: [0, 255],
    inputShape: [...inputShape],
    mean: [...spec.mean],
    std: [...spec.std],
    normalizationLayer: NORMALIZATION_LAYER,
    ...(spec.classNames ? { classNames: [...spec.classNames] } : {}),
  };
  return {
    ...out,
    weightSpecs: [...(artifacts.weightSpecs ?? []), ...layerSpecs],
    weightData: joined.buffer,
    userDefinedMetadata: { ...(artifacts.userDefinedMetadata ?? {}), ...metadata },
  };
}

function isNumberList(v: unknown, n?: number): v is number[] {
  return Array.isArray(v) && (n === undefined || v.length === n) && v.every((x) => typeof x === 'number' && Number.isFinite(x));
}

/**
 * Take the `input_normalization` layer out of saved artifacts (the inverse of `insertInputNormalization`): the model
 * then takes standardized inputs again. Returns the artifacts unchanged and no spec when the model has no such layer
 * (a model saved before normalisation was stored, or from elsewhere). A layer without readable metadata is a
 * ModelFileError naming `where`.
 */
export function stripInputNormalization(
  artifacts: ModelArtifacts,
  where: string,
): { artifacts: ModelArtifacts; spec?: StudentInputSpec } {
  const meta = (artifacts.userDefinedMetadata ?? {}) as Json;
  if (artifacts.format === 'graph-model' || meta['normalizationLayer'] !== NORMALIZATION_LAYER) return { artifacts };
  const out = structuredClone({ ...artifacts, weightData: undefined }) as ModelArtifacts;
  const { layers, inputLayers, outputLayers } = modelConfig(out, where);
  const index = layers.findIndex((l) => l['name'] === NORMALIZATION_LAYER);
  const inputName = inputLayers[0]?.[0];
  const inbound = (layers[index]?.['inbound_nodes'] as NodeRef[][] | undefined)?.[0]?.[0]?.[0];
  const c = (inputShapeOf(layers, inputName) ?? [])[2];
  if (index < 0 || inputName === undefined || inbound !== inputName || c === undefined) {
    throw new ModelFileError(where, `${where}: userDefinedMetadata names the layer ${NORMALIZATION_LAYER}, but the model has no such layer right after its input`);
  }
  if (!isNumberList(meta['mean'], c) || !isNumberList(meta['std'], c) || !(meta['std'] as number[]).every((s) => s > 0)) {
    throw new ModelFileError(where, `${where}: userDefinedMetadata needs "mean" and "std" with ${c} values each (std > 0)`);
  }
  layers.splice(index, 1);
  rewire(layers, outputLayers, NORMALIZATION_LAYER, inputName, '');

  const specs = artifacts.weightSpecs ?? [];
  const data = new Uint8Array(artifacts.weightData == null ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData));
  const keptSpecs: tf.io.WeightsManifestEntry[] = [];
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const s of specs) {
    const n = specBytes(s);
    if (!s.name.startsWith(`${NORMALIZATION_LAYER}/`)) {
      keptSpecs.push(s);
      chunks.push(data.subarray(offset, offset + n));
    }
    offset += n;
  }
  const kept = new Uint8Array(chunks.reduce((a, ch) => a + ch.byteLength, 0));
  let o = 0;
  for (const ch of chunks) {
    kept.set(ch, o);
    o += ch.byteLength;
  }
  const rest: Json = { ...meta };
  for (const k of ['input', 'inputRange', 'inputShape', 'mean', 'std', 'normalizationLayer', 'classNames']) delete rest[k];
  const classNames = Array.isArray(meta['classNames']) && meta['classNames'].every((x) => typeof x === 'string')
    ? (meta['classNames'] as string[]) : undefined;
  return {
    artifacts: {
      ...out,
      weightSpecs: keptSpecs,
      weightData: kept.buffer,
      userDefinedMetadata: Object.keys(rest).length > 0 ? (rest as ModelArtifacts['userDefinedMetadata']) : undefined,
    },
    spec: { mean: meta['mean'] as number[], std: meta['std'] as number[], ...(classNames ? { classNames } : {}) },
  };
}

function inputShapeOf(layers: Json[], inputName: string | undefined): number[] | undefined {
  const layer = layers.find((l) => l['name'] === inputName);
  const shape = (layer?.['config'] as Json | undefined)?.['batch_input_shape'];
  return Array.isArray(shape) ? (shape.slice(1) as number[]) : undefined;
}

/** The artifacts of `model` as `model.save` would write them (nothing written). */
export async function modelArtifacts(model: tf.LayersModel): Promise<ModelArtifacts> {
  let captured: ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => {
    captured = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  return captured!;
}

/**
 * Load a tfjs LayersModel from a directory or model.json, taking out its `input_normalization` layer when it has one
 * (then `spec` says what it normalised with). Failures are ModelFileErrors naming the file.
 */
export async function loadLayersModelStandardized(modelFile: string): Promise<{ model: tf.LayersModel; spec?: StudentInputSpec }> {
  const { artifacts, spec } = stripInputNormalization(await loadModelArtifacts(modelFile), modelFile);
  try {
    const model = await tf.loadLayersModel(tf.io.fromMemory(artifacts), { strict: true });
    return { model, ...(spec ? { spec } : {}) };
  } catch (err) {
    throw await layersModelLoadError(modelFile, err);
  }
}
