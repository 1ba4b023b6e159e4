/**
 * A file-system `tf.io.IOHandler` that needs no tfjs-node: `model.json` + one `weights.bin` on save, any tfjs model
 * directory (layers-model or graph-model format, one or many weight shards) on load.
 *
 * Saving writes each file under a temporary name and renames it into place (weights first, then model.json), so a
 * crash never leaves a half-written file under the final name. Loading checks the files before tfjs sees them: weight
 * paths must stay inside the model's directory, weight files must hold at least the bytes the manifest declares,
 * shapes must be sane, and every layer class must be known to tfjs. Each refusal is a `ModelFileError` naming the file.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { tf } from '../runtime/tf.js';
import { ModelFileError } from './errors.js';
import { Keras3LayoutError, keras3ModelJSONToKeras2 } from './keras3.js';

type ModelArtifacts = tf.io.ModelArtifacts;
type ModelJSON = tf.io.ModelJSON;
type WeightsManifestEntry = tf.io.WeightsManifestEntry;

/** Largest element count accepted for one weight or input shape. */
export const MAX_ELEMENTS = 2 ** 31 - 1;

/** Where a model lives: its directory and its JSON file. */
export interface ModelLocation {
  readonly dir: string;
  readonly modelFile: string;
}

/** `dir` or `dir/model.json` (any `*.json` file) -> the directory and the JSON file. */
export function resolveModelLocation(dirOrFile: string): ModelLocation {
  const abs = path.resolve(dirOrFile);
  if (abs.toLowerCase().endsWith('.json')) return { dir: path.dirname(abs), modelFile: abs };
  return { dir: abs, modelFile: path.join(abs, 'model.json') };
}

/** Write a file under a temporary name in the same directory, flush it, then rename it into place. */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Replace directory `dir` with the fully written directory `staged` (a sibling): the old one is moved aside, the new
 * one renamed into place, the old one removed. `dir` therefore always holds either the complete old or the complete
 * new contents (or, for the instant between the two renames, nothing).
 */
export async function replaceDirectory(staged: string, dir: string): Promise<void> {
  const old = `${dir}.old-${process.pid}-${randomBytes(4).toString('hex')}`;
  let moved = false;
  try {
    await rename(dir, old);
    moved = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await rename(staged, dir);
  if (moved) await rm(old, { recursive: true, force: true });
}

/** A fresh sibling directory name for staging a write of `dir`. */
export function stagingDirFor(dir: string): string {
  return `${path.resolve(dir)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 };

function describeShape(shape: unknown): string {
  return JSON.stringify(shape);
}

/** Element count of a declared shape, or an error message if the shape is not a list of sane sizes. */
function checkShape(shape: unknown): number | string {
  if (!Array.isArray(shape)) return `shape ${describeShape(shape)} is not a list of sizes`;
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      return `shape ${describeShape(shape)} has the size ${JSON.stringify(d)} (expected a non-negative integer)`;
    }
    n *= d;
  }
  if (n > MAX_ELEMENTS) return `shape ${describeShape(shape)} declares ${n} elements (more than 2^31 - 1)`;
  return n;
}

/** Bytes one weight occupies in its shard, or undefined when it cannot be known (strings). */
function weightBytes(spec: WeightsManifestEntry, file: string): number | undefined {
  const n = checkShape(spec.shape);
  if (typeof n === 'string') throw new ModelFileError(file, `${file}: weight "${spec.name}": ${n}`);
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  if (spec.dtype === 'string' && spec.quantization == null) return undefined;
  const bytes = DTYPE_BYTES[dtype];
  if (bytes == null) {
    throw new ModelFileError(file, `${file}: weight "${spec.name}" has dtype "${dtype}" (expected float32, int32, bool, ` +
      `complex64, or a uint8/uint16/float16 quantization)`);
  }
  return n * bytes;
}

/** Resolve a weight path from the manifest inside `dir`, refusing anything that leaves it. */
function resolveWeightPath(dir: string, p: unknown, modelFile: string): string {
  if (typeof p !== 'string' || p.length === 0) {
    throw new ModelFileError(modelFile, `${modelFile}: weight path ${JSON.stringify(p)} is not a file name ` +
      `(expected a relative path inside ${dir})`);
  }
  const outside = () => new ModelFileError(modelFile, `${modelFile}: weight path "${p}" points outside the model's ` +
    `directory (expected a relative path inside ${dir}, without "..", "/" at the start, a drive letter or a URL)`);
  if (p.includes('://') || p.includes('\0') || path.isAbsolute(p) || path.posix.isAbsolute(p) || path.win32.isAbsolute(p)) {
    throw outside();
  }
  const segments = p.split(/[\\/]+/);
  if (segments.includes('..')) throw outside();
  const resolved = path.resolve(dir, p);
  const rel = path.relative(dir, resolved);
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw outside();
  return resolved;
}

/** Check every shape a Keras-style topology declares for its inputs. */
function checkTopologyShapes(node: unknown, modelFile: string): void {
  if (Array.isArray(node)) {
    for (const item of node) checkTopologyShapes(item, modelFile);
    return;
  }
  if (node == null || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
    if ((key === 'batch_input_shape' || key === 'batchInputShape') && Array.isArray(value)) {
      const sizes = value.map((d) => (d == null ? 1 : d));
      const n = checkShape(sizes);
      if (typeof n === 'string') {
        throw new ModelFileError(modelFile, `${modelFile}: input ${n.replace(/^shape \S+/, `shape ${describeShape(value)}`)}`);
      }
    } else if (typeof value === 'object') {
      checkTopologyShapes(value, modelFile);
    }
  }
}

interface LayerRef {
  readonly className: string;
  readonly name: string;
}

/** Every layer class a layers-model topology names (nested models and wrappers included). */
function layerClasses(topology: unknown): LayerRef[] {
  const out: LayerRef[] = [];
  const visit = (node: unknown): void => {
    if (node == null || typeof node !== 'object') return;
    const obj = node as Record<string, unknown>;
    const className = obj['class_name'];
    const config = obj['config'];
    if (typeof className !== 'string') return;
    const cfg = (config ?? {}) as Record<string, unknown>;
    out.push({ className, name: typeof cfg['name'] === 'string' ? cfg['name'] : obj['name'] as string ?? '?' });
    const layers = Array.isArray(config) ? config : cfg['layers'];
    if (Array.isArray(layers)) for (const l of layers) visit(l);
    if (cfg['layer'] != null) visit(cfg['layer']);
  };
  const top = topology as Record<string, unknown> | null;
  if (top == null || typeof top !== 'object') return out;
  visit(top['model_config'] ?? top);
  return out;
}

/** Refuse a layers-model topology that names a class tfjs does not know (before tfjs's own, vaguer error). */
export function checkLayerClasses(topology: unknown, modelFile: string): void {
  const known = tf.serialization.SerializationMap.getMap().classNameMap;
  for (const { className, name } of layerClasses(topology)) {
    if (!(className in known)) throw unknownLayerError(modelFile, className, name);
  }
}

export function unknownLayerError(modelFile: string, className: string, layerName?: string, cause?: unknown): ModelFileError {
  const which = layerName != null ? `layer "${layerName}" has the class "${className}"` : `the layer class "${className}"`;
  return new ModelFileError(modelFile,
    `${modelFile}: ${which}, which tfjs does not know. If it is a custom layer, import the code that defines it ` +
    `and register it before loading: class ${className} extends tf.layers.Layer { static className = '${className}'; ... } ` +
    `then tf.serialization.registerClass(${className}). Otherwise convert the model with only built-in layers.`,
    { cause });
}

/** Read and parse a model JSON file, refusing a missing or malformed one. */
export async function readModelJSON(modelFile: string): Promise<ModelJSON> {
  let text: string;
  try {
    text = await readFile(modelFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new ModelFileError(modelFile, `${modelFile} does not exist (expected a tfjs model: model.json + weight files)`,
        { cause: err });
    }
    throw new ModelFileError(modelFile, `${modelFile} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelFileError(modelFile, `${modelFile} is not valid JSON (${(err as Error).message}); expected a tfjs ` +
      `model.json`, { cause: err });
  }
  if (json == null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ModelFileError(modelFile, `${modelFile}: expected a JSON object with modelTopology and weightsManifest`);
  }
  const obj = json as Record<string, unknown>;
  if (obj['modelTopology'] == null || typeof obj['modelTopology'] !== 'object') {
    throw new ModelFileError(modelFile, `${modelFile}: no "modelTopology" object (expected a tfjs model.json)`);
  }
  if (obj['weightsManifest'] != null && !Array.isArray(obj['weightsManifest'])) {
    throw new ModelFileError(modelFile, `${modelFile}: "weightsManifest" is not a list of weight groups`);
  }
  return json as ModelJSON;
}

/** Read the weight files a manifest names, checking paths, shapes and sizes; returns specs + one joined buffer. */
async function readWeights(
  manifest: tf.io.WeightsManifestConfig,
  dir: string,
  modelFile: string,
): Promise<[WeightsManifestEntry[], ArrayBuffer]> {
  const specs: WeightsManifestEntry[] = [];
  const chunks: Uint8Array[] = [];
  for (const [g, group] of manifest.entries()) {
    if (group == null || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new ModelFileError(modelFile, `${modelFile}: weight group ${g} needs "paths" and "weights" lists`);
    }
    let declared: number | undefined = 0;
    for (const spec of group.weights) {
      const b = weightBytes(spec, modelFile);
      declared = b == null || declared == null ? undefined : declared + b;
    }
    const files = group.paths.map((p) => resolveWeightPath(dir, p, modelFile));
    const groupChunks: Uint8Array[] = [];
    let total = 0;
    for (const f of files) {
      let buf: Buffer;
      try {
        buf = await readFile(f);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new ModelFileError(f, code === 'ENOENT'
          ? `${f} does not exist (${path.basename(modelFile)} lists it as a weight file)`
          : `${f} cannot be read: ${(err as Error).message}`, { cause: err });
      }
      groupChunks.push(buf);
      total += buf.byteLength;
    }
    if (declared != null && total < declared) {
      const named = files.length === 1 ? files[0]! : `${files.join(', ')} (together)`;
      throw new ModelFileError(files[files.length - 1] ?? modelFile,
        `${named}: ${total} bytes, but ${path.basename(modelFile)} declares ${declared} bytes of weights ` +
        `(${group.weights.length} tensors) for it; the file is truncated or belongs to another model`);
    }
    let used = declared ?? total;
    for (const c of groupChunks) {
      const take = Math.min(used, c.byteLength);
      chunks.push(c.subarray(0, take));
      used -= take;
    }
    specs.push(...group.weights);
  }
  const size = chunks.reduce((s, c) => s + c.byteLength, 0);
  const joined = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    joined.set(c, offset);
    offset += c.byteLength;
  }
  return [specs, joined.buffer];
}

/** A Keras 3 layers-model JSON in the Keras 2 layout tfjs reads (see keras3.ts); others unchanged. */
function keras3ToKeras2(json: ModelJSON, modelFile: string): ModelJSON {
  try {
    return keras3ModelJSONToKeras2(json);
  } catch (err) {
    if (err instanceof Keras3LayoutError) {
      throw new ModelFileError(modelFile, `${modelFile} (Keras 3): ${err.message}`, { cause: err });
    }
    throw err;
  }
}

/**
 * Read, check and assemble the artifacts of a model directory (or model JSON file). A Keras 3 layers model is
 * translated to the Keras 2 layout on the way (keras3ModelJSONToKeras2).
 */
export async function loadModelArtifacts(dirOrFile: string): Promise<ModelArtifacts> {
  const { dir, modelFile } = resolveModelLocation(dirOrFile);
  const json = keras3ToKeras2(await readModelJSON(modelFile), modelFile);
  const isGraph = json.format === 'graph-model';
  if (!isGraph) {
    checkTopologyShapes(json.modelTopology, modelFile);
    checkLayerClasses(json.modelTopology, modelFile);
  }
  const [specs, data] = json.weightsManifest == null ? [[], new ArrayBuffer(0)] as [WeightsManifestEntry[], ArrayBuffer]
    : await readWeights(json.weightsManifest, dir, modelFile);
  return tf.io.getModelArtifactsForJSONSync(json, specs, data);
}

export interface FileSystemHandlerOptions {
  /** File name of the weights written on save; default `weights.bin` (or `<name>.weights.bin` beside `<name>.json`). */
  readonly weightsFile?: string;
}

/**
 * An IOHandler for `model.save(handler)`, `tf.loadLayersModel(handler)` and `tf.loadGraphModel(handler)`.
 * `dirOrFile` is a directory (files `model.json` + `weights.bin`) or the path of the model JSON file.
 */
export function fileSystemHandler(dirOrFile: string, options: FileSystemHandlerOptions = {}): tf.io.IOHandler {
  const { dir, modelFile } = resolveModelLocation(dirOrFile);
  const base = path.basename(modelFile, '.json');
  const weightsFile = options.weightsFile ?? (base === 'model' ? 'weights.bin' : `${base}.weights.bin`);
  return {
    async save(artifacts: ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new ModelFileError(modelFile, `${modelFile}: binary model topologies are not supported (expected JSON)`);
      }
      await mkdir(dir, { recursive: true });
      const data = artifacts.weightData == null ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const modelJSON: ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [weightsFile], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.trainingConfig != null) modelJSON.trainingConfig = artifacts.trainingConfig;
      if (artifacts.signature != null) modelJSON.signature = artifacts.signature;
      if (artifacts.userDefinedMetadata != null) modelJSON.userDefinedMetadata = artifacts.userDefinedMetadata;
      if (artifacts.modelInitializer != null) modelJSON.modelInitializer = artifacts.modelInitializer;
      if (artifacts.initializerSignature != null) modelJSON.initializerSignature = artifacts.initializerSignature;
      await writeFileAtomic(path.join(dir, weightsFile), new Uint8Array(data));
      await writeFileAtomic(modelFile, JSON.stringify(modelJSON));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    load(): Promise<ModelArtifacts> {
      return loadModelArtifacts(modelFile);
    },
  };
}

/** True when `p` exists (file or directory). */
export async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
