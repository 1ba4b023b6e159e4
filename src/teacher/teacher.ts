/**
 * A frozen teacher: loaded once, its weights made non-trainable, run in inference mode (BN moving statistics, no
 * dropout) inside tf.tidy, never updated.
 *
 * Sources (`loadTeacher(pathOrModel, options)`):
 * (a) a student bundle directory (saveStudentBundle), or a run directory holding one in `best/` (preferred),
 *     `checkpoint/` or `checkpoint/student/`; also an in-memory Student or TappedModel. The teacher's projection heads come along (`hasProjections`).
 * (b) a tfjs LayersModel (a model.json from anywhere, or an in-memory tf.LayersModel). Stages: `stageLayers` by name,
 *     or found automatically (see findStageLayers). pooled: `pooledLayer`, else global-average of the last stage.
 *     logits: `logitsLayer`, else the model's (last) output; a softmax at the end is looked through (see below).
 * (c) a tfjs GraphModel (format 'graph-model'): `stageNodes` required, `logitsNode` default the model's (last)
 *     output, `pooledNode` default global-average of the last stage.
 */
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { tf } from '../runtime/tf.js';
import { readModelJSON, resolveModelLocation } from '../io/fs-handler.js';
import { loadGraphModelFromDir, loadLayersModelFromDir } from '../io/load.js';
import type { InputShape, TappedModel } from '../models/types.js';
import { BUNDLE_FILE, loadStudentBundle } from '../student/bundle.js';
import { Student, wrapStudent } from '../student/student.js';

type Shape3 = readonly [number, number, number];
type ST = tf.SymbolicTensor;
type Shape = (number | null)[];

/** A teacher that cannot be used as asked (bad path, unknown stage name, wrong class count, ...). */
export class TeacherError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TeacherError';
  }
}

export interface LoadTeacherOptions {
  /** Class count the data / student has; a teacher with another count is refused. */
  readonly expectedClasses?: number;
  /** (b) Names of the layers whose outputs are the stage features, in order. Default: found automatically. */
  readonly stageLayers?: readonly string[];
  /** (b) Layer whose output is the pooled feature [B, D]. Default: global-average of the last stage. */
  readonly pooledLayer?: string;
  /** (b) Layer whose output is the logits. Default: the model's last output. */
  readonly logitsLayer?: string;
  /** (c) Graph node names of the stage features (NHWC), in order. Required for a GraphModel. */
  readonly stageNodes?: readonly string[];
  /** (c) Node of the pooled feature. Default: global-average of the last stage. */
  readonly pooledNode?: string;
  /** (c) Node of the logits. Default: the graph's last output node. */
  readonly logitsNode?: string;
  /** Input [H, W, C] when the model does not declare it (GraphModels with unknown placeholder shapes). */
  readonly inputShape?: InputShape;
}

export type TeacherOutputs = {
  readonly features: tf.Tensor4D[];
  readonly pooled: tf.Tensor2D;
  readonly logits: tf.Tensor2D;
  /** One per stage, L2-normalised: present when the teacher carries CDS projection heads (hasProjections). */
  readonly projections?: tf.Tensor2D[];
};

export type TeacherKind = 'bundle' | 'layers' | 'graph';

/** How the teacher computes its outputs: one function from the input to a flat list of tensors. */
interface Runner {
  /** Returns [...features, pooled, logits, ...projections]; called inside tf.tidy. */
  run(x: tf.Tensor4D): tf.Tensor[];
  /** The teacher's weight tensors (variables for LayersModels, constants for GraphModels). */
  weights(): tf.Tensor[];
  dispose(): void;
}

export class Teacher {
  readonly kind: TeacherKind;
  /** The file or directory the teacher came from ('<memory>' for an in-memory model). */
  readonly source: string;
  readonly inputShape: InputShape;
  readonly numClasses: number;
  /** [H, W, C] of each feature `forward` returns. */
  readonly featureShapes: readonly Shape3[];
  /** Indices into `features` of the stages (bundle: every feature but the stem; others: every tap). */
  readonly stageIndices: readonly number[];
  /** Layer or node name (or `featureN` for a bundle) of each feature. */
  readonly featureNames: readonly string[];
  readonly pooledDim: number;
  readonly hasProjections: boolean;
  /** The teacher as a Student when it came from a bundle (frozen; its heads included), else undefined. */
  readonly student: Student | undefined;
  private readonly runner: Runner;
  private readonly numProjections: number;

  constructor(args: {
    kind: TeacherKind;
    source: string;
    inputShape: InputShape;
    numClasses: number;
    featureShapes: readonly Shape3[];
    stageIndices: readonly number[];
    featureNames: readonly string[];
    pooledDim: number;
    numProjections: number;
    runner: Runner;
    student?: Student;
  }) {
    this.kind = args.kind;
    this.source = args.source;
    this.inputShape = args.inputShape;
    this.numClasses = args.numClasses;
    this.featureShapes = args.featureShapes;
    this.stageIndices = args.stageIndices;
    this.featureNames = args.featureNames;
    this.pooledDim = args.pooledDim;
    this.numProjections = args.numProjections;
    this.hasProjections = args.numProjections > 0;
    this.runner = args.runner;
    this.student = args.student;
  }

  /** Run the teacher in inference mode. The caller owns the returned tensors; nothing else is left behind. */
  forward(x: tf.Tensor4D): TeacherOutputs {
    const outs = tf.tidy(() => this.runner.run(x));
    const nf = this.featureShapes.length;
    const result: TeacherOutputs = {
      features: outs.slice(0, nf) as tf.Tensor4D[],
      pooled: outs[nf] as tf.Tensor2D,
      logits: outs[nf + 1] as tf.Tensor2D,
    };
    if (this.numProjections > 0) {
      return { ...result, projections: outs.slice(nf + 2, nf + 2 + this.numProjections) as tf.Tensor2D[] };
    }
    return result;
  }

  /** The teacher's weights (read-only views: frozen, never updated; BN moving statistics included). */
  get weights(): tf.Tensor[] {
    return this.runner.weights();
  }

  /** Release the teacher's weights. */
  dispose(): void {
    this.runner.dispose();
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Freezing

/** Make every weight of a LayersModel (nested models included) non-trainable. */
export function freezeLayersModel(model: tf.LayersModel): void {
  const visit = (layer: tf.layers.Layer): void => {
    layer.trainable = false;
    const inner = (layer as unknown as { layers?: tf.layers.Layer[] }).layers;
    if (Array.isArray(inner)) inner.forEach(visit);
  };
  model.layers.forEach(visit);
  model.trainable = false;
  if (model.trainableWeights.length > 0) {
    throw new TeacherError(`could not freeze the teacher: ${model.trainableWeights.length} weights stay trainable`);
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// (a) bundles

function teacherFromStudent(student: Student, source: string, options: LoadTeacherOptions, owned: boolean): Teacher {
  freezeLayersModel(student.trainNet);
  const nf = student.featureShapes.length;
  const K = student.numStages;
  const outs = student.trainNet.outputs;
  const wanted = outs.slice(0, nf + 2).concat(student.hasProjections ? outs.slice(nf + 2, nf + 2 + K) : []);
  const net = tf.model({ inputs: student.trainNet.inputs, outputs: wanted, name: `${student.name}_teacher` });
  checkClasses(student.numClasses, source, options);
  return new Teacher({
    kind: 'bundle',
    source,
    inputShape: student.inputShape,
    numClasses: student.numClasses,
    featureShapes: student.featureShapes,
    stageIndices: student.stageIndices,
    featureNames: student.featureShapes.map((_, i) => `feature${i}`),
    pooledDim: student.pooledDim,
    numProjections: student.hasProjections ? K : 0,
    student,
    runner: {
      run: (x) => net.apply(x, { training: false }) as tf.Tensor[],
      weights: () => student.trainNet.weights.map((w) => w.read()),
      dispose: () => (owned ? student.dispose() : undefined),
    },
  });
}

function checkClasses(numClasses: number, source: string, options: LoadTeacherOptions): void {
  const expected = options.expectedClasses;
  if (expected != null && expected !== numClasses) {
    throw new TeacherError(`teacher ${source} predicts ${numClasses} classes, but the data/student has ${expected} ` +
      `(expected a teacher trained on the same classes)`);
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// (b) LayersModels

function isInputLayer(layer: tf.layers.Layer): boolean {
  return layer.getClassName() === 'InputLayer';
}

function layerOutputShape(layer: tf.layers.Layer): Shape | undefined {
  const node = layer.inboundNodes[0];
  if (node == null) return undefined;
  const shapes = node.outputShapes;
  return Array.isArray(shapes[0]) ? (shapes as Shape[])[0] : (shapes as Shape);
}

function isSpatial(shape: Shape | undefined): shape is Shape {
  return shape != null && shape.length === 4;
}

/** True when going from size a to size b halves it (or more): a stride-2 conv/pool, not a 'valid' 3x3 trim. */
function halves(a: number | null, b: number | null): boolean {
  return a != null && b != null && b < a && 2 * b <= a + 1;
}

/**
 * Find stage layers automatically: for every spatial downsampling (a layer whose 4-D input is at least halved in
 * height or width), the layer producing that input, i.e. the last layer before the downsampling (one per input
 * resolution, the latest in topological order; model inputs excluded); plus the last layer with a 4-D output.
 */
export function findStageLayers(model: tf.LayersModel): tf.layers.Layer[] {
  const layers = model.layers;
  const pos = new Map(layers.map((l, i) => [l, i] as const));
  const byResolution = new Map<string, tf.layers.Layer>();
  for (const layer of layers) {
    if (isInputLayer(layer)) continue;
    const node = layer.inboundNodes[0];
    if (node == null) continue;
    const out = layerOutputShape(layer);
    if (!isSpatial(out)) continue;
    for (const t of node.inputTensors) {
      const s = t.shape;
      if (s.length !== 4) continue;
      if (!halves(s[1] ?? null, out[1] ?? null) && !halves(s[2] ?? null, out[2] ?? null)) continue;
      const src = t.sourceLayer;
      if (isInputLayer(src)) continue;
      const key = `${s[1]}x${s[2]}`;
      const prev = byResolution.get(key);
      if (prev == null || (pos.get(src) ?? -1) > (pos.get(prev) ?? -1)) byResolution.set(key, src);
    }
  }
  const taps = [...byResolution.values()];
  for (let i = layers.length - 1; i >= 0; i--) {
    const l = layers[i]!;
    if (!isInputLayer(l) && isSpatial(layerOutputShape(l))) {
      if (!taps.includes(l)) taps.push(l);
      break;
    }
  }
  return taps.sort((a, b) => (pos.get(a) ?? 0) - (pos.get(b) ?? 0));
}

function suggestLayers(model: tf.LayersModel, missing: string): string {
  const spatial = model.layers.filter((l) => !isInputLayer(l) && isSpatial(layerOutputShape(l))).map((l) => l.name);
  const all = spatial.length > 0 ? spatial : model.layers.map((l) => l.name);
  const near = all.filter((n) => n.toLowerCase().includes(missing.toLowerCase()) || missing.toLowerCase().includes(n.toLowerCase()));
  const pick = [...new Set([...near, ...all])].slice(0, 8);
  return `${pick.join(', ')}${all.length > pick.length ? `, ... (${all.length} ${spatial.length > 0 ? 'spatial ' : ''}layers)` : ''}`;
}

function getLayer(model: tf.LayersModel, name: string, what: string, source: string): tf.layers.Layer {
  const layer = model.layers.find((l) => l.name === name);
  if (layer == null) {
    throw new TeacherError(`${what} "${name}" is not a layer of ${source}; valid layer names include: ` +
      `${suggestLayers(model, name)}`);
  }
  return layer;
}

function layerOutput(layer: tf.layers.Layer): ST {
  const node = layer.inboundNodes[0];
  if (node == null || node.outputTensors.length === 0) throw new TeacherError(`layer "${layer.name}" has no output`);
  return node.outputTensors[0]!;
}

function activationName(layer: tf.layers.Layer): string | undefined {
  const cfg = layer.getConfig() as Record<string, unknown>;
  const a = cfg['activation'];
  return typeof a === 'string' ? a : undefined;
}

let gapCounter = 0;

/**
 * The logits of a LayersModel's output layer. A final softmax is looked through, because distillation needs logits:
 * a Softmax layer or Activation('softmax') -> its input; a Dense with softmax activation -> its pre-activation,
 * computed in forward from the layer's kernel and bias.
 */
function logitsSource(layer: tf.layers.Layer): { tensor: ST; dense?: tf.layers.Layer } {
  const cls = layer.getClassName();
  const act = activationName(layer);
  if (cls === 'Softmax' || (cls === 'Activation' && act === 'softmax')) {
    return { tensor: layer.inboundNodes[0]!.inputTensors[0]! };
  }
  if (cls === 'Dense' && act === 'softmax') return { tensor: layer.inboundNodes[0]!.inputTensors[0]!, dense: layer };
  return { tensor: layerOutput(layer) };
}

function teacherFromLayersModel(model: tf.LayersModel, source: string, options: LoadTeacherOptions, owned: boolean): Teacher {
  if (model.inputs.length !== 1) {
    throw new TeacherError(`teacher ${source} has ${model.inputs.length} inputs (expected one image input)`);
  }
  const inShape = model.inputs[0]!.shape;
  const inputShape = (options.inputShape ?? inShape.slice(1)) as InputShape;
  if (inputShape.length !== 3 || !inputShape.every((d) => Number.isInteger(d) && (d as number) >= 1)) {
    throw new TeacherError(`teacher ${source} has input shape ${JSON.stringify(inShape)} (expected [batch, H, W, C] ` +
      `with known H, W, C; pass options.inputShape)`);
  }
  let stages: tf.layers.Layer[];
  if (options.stageLayers != null && options.stageLayers.length > 0) {
    stages = options.stageLayers.map((n) => getLayer(model, n, 'stage layer', source));
  } else {
    stages = findStageLayers(model);
    if (stages.length === 0) {
      throw new TeacherError(`teacher ${source} has no layer with a 4-D (spatial) output to use as a stage; ` +
        `pass options.stageLayers`);
    }
  }
  const stageOuts = stages.map((l) => {
    const t = layerOutput(l);
    if (t.shape.length !== 4 || t.shape.slice(1).some((d) => d == null)) {
      throw new TeacherError(`stage layer "${l.name}" of ${source} outputs shape ${JSON.stringify(t.shape)} ` +
        `(expected a spatial feature [batch, H, W, C]); valid layer names include: ${suggestLayers(model, l.name)}`);
    }
    return t;
  });
  const logitsLayer = options.logitsLayer != null
    ? getLayer(model, options.logitsLayer, 'logits layer', source)
    : model.outputs[model.outputs.length - 1]!.sourceLayer;
  const logits = logitsSource(logitsLayer);
  let pooled: ST;
  if (options.pooledLayer != null) {
    pooled = layerOutput(getLayer(model, options.pooledLayer, 'pooled layer', source));
    if (pooled.shape.length !== 2) {
      throw new TeacherError(`pooled layer "${options.pooledLayer}" of ${source} outputs shape ` +
        `${JSON.stringify(pooled.shape)} (expected [batch, D])`);
    }
  } else {
    const gap = tf.layers.globalAveragePooling2d({ name: `cds_teacher_gap_${gapCounter++}` });
    pooled = gap.apply(stageOuts[stageOuts.length - 1]!) as ST;
  }
  freezeLayersModel(model);
  const net = tf.model({ inputs: model.inputs, outputs: [...stageOuts, pooled, logits.tensor] });
  const dense = logits.dense;
  const nf = stageOuts.length;
  const run = (x: tf.Tensor4D): tf.Tensor[] => {
    const outs = net.apply(x, { training: false }) as tf.Tensor[];
    if (dense != null) {
      const [kernel, bias] = dense.getWeights();
      let z = tf.matMul(outs[nf + 1] as tf.Tensor2D, kernel as tf.Tensor2D);
      if (bias != null) z = tf.add(z, bias);
      outs[nf + 1] = z;
    }
    return outs;
  };
  const numClasses = logits.dense != null
    ? (layerOutput(logitsLayer).shape[1] ?? 0)
    : (logits.tensor.shape[logits.tensor.shape.length - 1] ?? 0);
  if (logits.tensor.shape.length !== 2) {
    throw new TeacherError(`the logits of ${source} (layer "${logitsLayer.name}") have shape ` +
      `${JSON.stringify(logits.tensor.shape)} (expected [batch, classes]); pass options.logitsLayer`);
  }
  checkClasses(numClasses, source, options);
  return new Teacher({
    kind: 'layers',
    source,
    inputShape: [inputShape[0]!, inputShape[1]!, inputShape[2]!],
    numClasses,
    featureShapes: stageOuts.map((t) => [t.shape[1]!, t.shape[2]!, t.shape[3]!] as const),
    stageIndices: stageOuts.map((_, i) => i),
    featureNames: stages.map((l) => l.name),
    pooledDim: pooled.shape[1] ?? 0,
    numProjections: 0,
    runner: {
      run,
      weights: () => model.weights.map((w) => w.read()),
      dispose: () => (owned ? model.dispose() : undefined),
    },
  });
}

// ---------------------------------------------------------------------------------------------------------------------
// (c) GraphModels

interface GraphNodeJSON {
  name?: string;
  op?: string;
}

function graphNodes(model: tf.GraphModel, topology: unknown): GraphNodeJSON[] {
  const fromTopology = (topology as { node?: GraphNodeJSON[] } | undefined)?.node;
  if (Array.isArray(fromTopology)) return fromTopology;
  const internal = model as unknown as { artifacts?: { modelTopology?: { node?: GraphNodeJSON[] } } };
  return internal.artifacts?.modelTopology?.node ?? [];
}

function baseNodeName(name: string): string {
  return name.replace(/:\d+$/, '');
}

const FEATURE_OPS = new Set(['Relu', 'Relu6', 'Conv2D', '_FusedConv2D', 'FusedBatchNorm', 'FusedBatchNormV3', 'Add',
  'AddV2', 'MaxPool', 'AvgPool', 'DepthwiseConv2dNative', 'FusedDepthwiseConv2dNative', 'BiasAdd']);

function suggestNodes(nodes: GraphNodeJSON[], missing: string): string {
  const names = nodes.filter((n) => FEATURE_OPS.has(n.op ?? '')).map((n) => n.name ?? '');
  const all = names.length > 0 ? names : nodes.map((n) => n.name ?? '');
  const near = all.filter((n) => n.toLowerCase().includes(missing.toLowerCase()));
  const pick = [...new Set([...near, ...all])].slice(0, 8);
  return `${pick.join(', ')}${all.length > pick.length ? `, ... (${all.length} nodes)` : ''}`;
}

function teacherFromGraphModel(
  model: tf.GraphModel,
  topology: unknown,
  source: string,
  options: LoadTeacherOptions,
  owned: boolean,
): Teacher {
  const nodes = graphNodes(model, topology);
  const names = new Set(nodes.map((n) => n.name ?? ''));
  const check = (name: string, what: string): string => {
    if (names.size > 0 && !names.has(baseNodeName(name))) {
      throw new TeacherError(`${what} "${name}" is not a node of ${source}; valid node names include: ` +
        `${suggestNodes(nodes, baseNodeName(name))}`);
    }
    return name;
  };
  if (options.stageNodes == null || options.stageNodes.length === 0) {
    throw new TeacherError(`teacher ${source} is a GraphModel: pass options.stageNodes (the node names of its stage ` +
      `features); candidates: ${suggestNodes(nodes, '')}`);
  }
  const stageNodes = options.stageNodes.map((n) => check(n, 'stage node'));
  const logitsNode = check(options.logitsNode ?? model.outputNodes[model.outputNodes.length - 1]!, 'logits node');
  const pooledNode = options.pooledNode != null ? check(options.pooledNode, 'pooled node') : undefined;
  if (model.inputs.length !== 1) {
    throw new TeacherError(`teacher ${source} has ${model.inputs.length} inputs (expected one image input)`);
  }
  const inputInfo = model.inputs[0]!;
  const declared = inputInfo.shape?.slice(1);
  const inputShape = options.inputShape ??
    (declared != null && declared.length === 3 && declared.every((d) => d > 0) ? declared as unknown as InputShape : undefined);
  if (inputShape == null) {
    throw new TeacherError(`teacher ${source}: the input "${inputInfo.name}" has shape ${JSON.stringify(inputInfo.shape)} ` +
      `(expected [batch, H, W, C] with known H, W, C); pass options.inputShape`);
  }
  const fetch = [...stageNodes, ...(pooledNode != null ? [pooledNode] : []), logitsNode];
  const nf = stageNodes.length;
  const execute = (x: tf.Tensor4D): tf.Tensor[] => {
    const outs = model.execute({ [inputInfo.name]: x }, fetch) as tf.Tensor | tf.Tensor[];
    return Array.isArray(outs) ? outs : [outs];
  };
  const run = (x: tf.Tensor4D): tf.Tensor[] => {
    const list = execute(x);
    const features = list.slice(0, nf);
    const pooled = pooledNode != null ? list[nf]! : tf.mean(features[nf - 1]!, [1, 2]);
    return [...features, pooled, list[list.length - 1]!];
  };
  // One probe pass to learn the shapes (and check ranks) before anything trains against them.
  const raw = tf.tidy(() => execute(tf.zeros([1, ...inputShape]) as tf.Tensor4D).map((t) => t.shape));
  const probe = [...raw.slice(0, nf), pooledNode != null ? raw[nf]! : [1, raw[nf - 1]![3] ?? 0], raw[raw.length - 1]!];
  probe.slice(0, nf).forEach((s, i) => {
    if (s.length !== 4) {
      throw new TeacherError(`stage node "${stageNodes[i]}" of ${source} has shape ${JSON.stringify(s)} ` +
        `(expected a spatial feature [batch, H, W, C]); valid node names include: ${suggestNodes(nodes, '')}`);
    }
  });
  const pooledShape = probe[nf]!;
  const logitsShape = probe[nf + 1]!;
  if (pooledShape.length !== 2) {
    throw new TeacherError(`pooled node "${pooledNode}" of ${source} has shape ${JSON.stringify(pooledShape)} (expected [batch, D])`);
  }
  if (logitsShape.length !== 2) {
    throw new TeacherError(`logits node "${logitsNode}" of ${source} has shape ${JSON.stringify(logitsShape)} ` +
      `(expected [batch, classes]); pass options.logitsNode`);
  }
  const numClasses = logitsShape[1]!;
  checkClasses(numClasses, source, options);
  return new Teacher({
    kind: 'graph',
    source,
    inputShape: [inputShape[0], inputShape[1], inputShape[2]],
    numClasses,
    featureShapes: probe.slice(0, nf).map((s) => [s[1]!, s[2]!, s[3]!] as const),
    stageIndices: stageNodes.map((_, i) => i),
    featureNames: stageNodes,
    pooledDim: pooledShape[1]!,
    numProjections: 0,
    runner: {
      run,
      weights: () => Object.values(model.weights).flat(),
      dispose: () => (owned ? model.dispose() : undefined),
    },
  });
}

// ---------------------------------------------------------------------------------------------------------------------
// Entry point

async function kindOf(p: string): Promise<'dir' | 'file' | undefined> {
  try {
    const s = await stat(p);
    return s.isDirectory() ? 'dir' : 'file';
  } catch {
    return undefined;
  }
}

/**
 * Where a student bundle may sit, relative to the given directory, in order of preference: the directory itself, a run
 * directory's best/ (best model so far), its checkpoint/ (a bundle saved there directly, or the checkpoint layout of
 * src/train: checkpoint/student/), and student/ (for a checkpoint directory given itself; a run's exported student/
 * has no bundle.json and is not picked).
 */
export const RUN_BUNDLE_DIRS: readonly string[] = ['', 'best', 'checkpoint', path.join('checkpoint', 'student'), 'student'];

/** Where a teacher path leads: a bundle directory, or a model JSON file. */
export async function resolveTeacherPath(p: string): Promise<{ bundleDir?: string; modelFile?: string }> {
  const abs = path.resolve(p);
  const kind = await kindOf(abs);
  if (kind == null) {
    throw new TeacherError(`teacher path ${abs} does not exist (expected a student bundle or run directory, or a ` +
      `tfjs model.json)`);
  }
  if (kind === 'file') {
    if (path.basename(abs) === BUNDLE_FILE) return { bundleDir: path.dirname(abs) };
    return { modelFile: abs };
  }
  for (const sub of RUN_BUNDLE_DIRS) {
    const dir = path.join(abs, sub);
    if ((await kindOf(path.join(dir, BUNDLE_FILE))) === 'file') return { bundleDir: dir };
  }
  const modelFile = resolveModelLocation(abs).modelFile;
  if ((await kindOf(modelFile)) === 'file') return { modelFile };
  throw new TeacherError(`teacher directory ${abs} holds no model: looked for ${BUNDLE_FILE} (a student bundle), ` +
    `best/${BUNDLE_FILE}, checkpoint/${BUNDLE_FILE}, checkpoint/student/${BUNDLE_FILE} (a run directory), ` +
    `student/${BUNDLE_FILE} (a checkpoint directory) and ` +
    `model.json (a tfjs model)`);
}

function isGraphModel(m: unknown): m is tf.GraphModel {
  return m instanceof tf.GraphModel;
}

/**
 * Load and freeze a teacher. `pathOrModel`: a bundle or run directory, a model.json (layers or graph format), a
 * directory with a model.json, or an in-memory Student / TappedModel / tf.LayersModel / tf.GraphModel (frozen in place).
 * Bad input is refused with a TeacherError (names, classes, paths) or a ModelFileError (the files themselves).
 */
export async function loadTeacher(
  pathOrModel: string | Student | TappedModel | tf.LayersModel | tf.GraphModel,
  options: LoadTeacherOptions = {},
): Promise<Teacher> {
  const memory = '<memory>';
  if (typeof pathOrModel !== 'string') {
    if (pathOrModel instanceof Student) return teacherFromStudent(pathOrModel, memory, options, false);
    if (isGraphModel(pathOrModel)) return teacherFromGraphModel(pathOrModel, undefined, memory, options, false);
    if (pathOrModel instanceof tf.LayersModel) return teacherFromLayersModel(pathOrModel, memory, options, false);
    const tapped = pathOrModel as TappedModel;
    if (tapped.net instanceof tf.LayersModel && Array.isArray(tapped.featureShapes)) {
      return teacherFromStudent(wrapStudent(tapped, { heads: 'none' }), memory, options, false);
    }
    throw new TeacherError('loadTeacher: expected a path, a Student, a TappedModel, a tf.LayersModel or a tf.GraphModel');
  }
  const where = await resolveTeacherPath(pathOrModel);
  if (where.bundleDir != null) {
    const student = await loadStudentBundle(where.bundleDir);
    try {
      return teacherFromStudent(student, where.bundleDir, options, true);
    } catch (err) {
      student.dispose();
      throw err;
    }
  }
  const modelFile = where.modelFile!;
  const json = await readModelJSON(modelFile);
  if (json.format === 'graph-model') {
    const model = await loadGraphModelFromDir(modelFile);
    try {
      return teacherFromGraphModel(model, json.modelTopology, modelFile, options, true);
    } catch (err) {
      model.dispose();
      throw err;
    }
  }
  const model = await loadLayersModelFromDir(modelFile);
  try {
    return teacherFromLayersModel(model, modelFile, options, true);
  } catch (err) {
    model.dispose();
    throw err;
  }
}


