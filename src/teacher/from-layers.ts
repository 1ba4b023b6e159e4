/** (b) A tfjs LayersModel as a teacher: stage layers by name or found automatically, pooled feature, logits. */
import { tf } from '../runtime/tf.js';
import { denseLogits, layersLogitsSource } from '../models/logits.js';
import { checkClasses, freezeLayersModel, resolveInputShape, Teacher, TeacherError } from './teacher.js';
import type { LoadTeacherOptions } from './teacher.js';

type ST = tf.SymbolicTensor;
type Shape = (number | null)[];

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
 * Back through zero-padding layers to the tensor that was padded: a ZeroPadding2D before a strided conv (how the zoo
 * and PyTorch-style exports pad symmetrically) is not a stage, the layer it pads is.
 */
function throughPadding(t: tf.SymbolicTensor): tf.SymbolicTensor {
  let cur = t;
  for (;;) {
    const layer = cur.sourceLayer;
    const input = layer.getClassName() === 'ZeroPadding2D' ? layer.inboundNodes[0]?.inputTensors[0] : undefined;
    if (input == null || input.shape.length !== 4) return cur;
    cur = input;
  }
}

/**
 * Find stage layers automatically: for every spatial downsampling (a layer whose 4-D input is at least halved in
 * height or width), the layer producing that input, i.e. the last layer before the downsampling (one per input
 * resolution, the latest in topological order; model inputs excluded; zero padding looked through); plus the last
 * layer with a 4-D output.
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
    for (const input of node.inputTensors) {
      const t = throughPadding(input);
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

let gapCounter = 0;

/**
 * `model` rebuilt for inputs of exactly `inputShape` [H, W, C] (its InputLayer's, or a Sequential's first layer's,
 * batch_input_shape replaced), with copies of its weights: a model declaring null H/W then has the fixed stage shapes
 * a teacher needs. The caller owns (and disposes) the result; `model` is left as it was.
 */
export async function withFixedInputShape(model: tf.LayersModel, inputShape: readonly number[]): Promise<tf.LayersModel> {
  const topology = model.toJSON(null, false) as unknown as { config: { layers: { class_name: string; config: Record<string, unknown> }[] } };
  const layers = topology.config.layers;
  const inputLayers = layers.filter((l) => l.class_name === 'InputLayer');
  for (const l of inputLayers.length > 0 ? inputLayers : layers.slice(0, 1)) l.config['batch_input_shape'] = [null, ...inputShape];
  const fixed = await tf.models.modelFromJSON({ modelTopology: topology } as unknown as Parameters<typeof tf.models.modelFromJSON>[0]);
  fixed.setWeights(model.getWeights());
  return fixed;
}

export function teacherFromLayersModel(model: tf.LayersModel, source: string, options: LoadTeacherOptions, owned: boolean): Teacher {
  if (model.inputs.length !== 1) {
    throw new TeacherError(`teacher ${source} has ${model.inputs.length} inputs (expected one image input)`);
  }
  const inputShape = resolveInputShape(model.inputs[0]!.shape.slice(1), options.inputShape, source);
  if (model.inputs[0]!.shape.slice(1).some((d) => d == null)) {
    throw new TeacherError(`teacher ${source} declares an input without a fixed size; load it with loadTeacher (which ` +
      `fixes it to options.inputShape)`);
  }
  let stages: tf.layers.Layer[];
  if (options.stageLayers != null && options.stageLayers.length > 0) {
    stages = options.stageLayers.map((n) => getLayer(model, n, 'stage layer', source));
  } else {
    // None found (no spatial layer): a logits-only teacher, enough for kd and dkd (methods that read stages refuse it).
    stages = findStageLayers(model);
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
  // A final softmax is looked through (the one rule, in models/logits.ts): distillation needs logits.
  const logits = layersLogitsSource(logitsLayer);
  let pooled: ST | undefined;
  if (options.pooledLayer != null) {
    pooled = layerOutput(getLayer(model, options.pooledLayer, 'pooled layer', source));
    if (pooled.shape.length !== 2) {
      throw new TeacherError(`pooled layer "${options.pooledLayer}" of ${source} outputs shape ` +
        `${JSON.stringify(pooled.shape)} (expected [batch, D])`);
    }
  } else if (stageOuts.length > 0) {
    const gap = tf.layers.globalAveragePooling2d({ name: `cds_teacher_gap_${gapCounter++}` });
    pooled = gap.apply(stageOuts[stageOuts.length - 1]!) as ST;
  }
  freezeLayersModel(model);
  // Without stages or a pooled layer the pooled feature is empty ([B, 0]) and made outside the model.
  const emptyPooled = pooled === undefined;
  const net = tf.model({ inputs: model.inputs, outputs: [...stageOuts, ...(emptyPooled ? [] : [pooled!]), logits.tensor] });
  const dense = logits.dense;
  const nf = stageOuts.length;
  const run = (x: tf.Tensor4D): tf.Tensor[] => {
    const applied = net.apply(x, { training: false }) as tf.Tensor | tf.Tensor[];
    const outs = Array.isArray(applied) ? applied : [applied];
    if (emptyPooled) outs.splice(nf, 0, tf.zeros([x.shape[0], 0]));
    if (dense != null) {
      // (run is called inside a tidy; the Dense's input may also be the pooled output, so it is not disposed here.)
      outs[nf + 1] = denseLogits(outs[nf + 1] as tf.Tensor2D, dense);
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
    pooledDim: pooled?.shape[1] ?? 0,
    numProjections: 0,
    runner: {
      run,
      weights: () => model.weights.map((w) => w.read()),
      dispose: () => (owned ? model.dispose() : undefined),
    },
  });
}
