/**
 * The one rule for "the logits of a classifier": look through a final softmax. Distillation losses and every metric
 * (top-k, ECE, NLL) take logits, and many exported classifiers end in a softmax; reading its probabilities as logits
 * applies softmax twice (confident models then look uncalibrated: ECE and NLL are wrong, top-1 is not). Teachers
 * (`loadTeacher`), `evaluate()` and `eval` all get their logits here.
 *
 * LayersModels: the output layer is a `Softmax` layer or `Activation('softmax')` -> its input; a `Dense` (or any layer
 * with a kernel) with `activation: 'softmax'` -> its pre-activation, x * kernel + bias.
 * GraphModels: the output node, through any `Identity` nodes, is a `Softmax` node -> its input.
 */
import { tf } from '../runtime/tf.js';

type ST = tf.SymbolicTensor;

/** Where a LayersModel's logits are, from its output layer. */
export interface LayersLogitsSource {
  /** The logits; for a Dense with softmax activation, the Dense's input (apply `denseLogits`). */
  readonly tensor: ST;
  /** Set when the logits are this Dense layer's pre-activation, computed from `tensor` by `denseLogits`. */
  readonly dense?: tf.layers.Layer;
  /** The softmax that was looked through (for messages), undefined when the layer's output is the logits. */
  readonly softmax?: string;
}

function activationName(layer: tf.layers.Layer): string | undefined {
  const a = (layer.getConfig() as Record<string, unknown>)['activation'];
  return typeof a === 'string' ? a : undefined;
}

function outputOf(layer: tf.layers.Layer): ST {
  const node = layer.inboundNodes[0];
  if (node == null || node.outputTensors.length === 0) throw new Error(`layer "${layer.name}" has no output`);
  return node.outputTensors[0]!;
}

/**
 * The logits of `layer` (a classifier's output layer), looking through a final softmax: a Softmax layer or
 * Activation('softmax') gives its input; a Dense with softmax activation gives its input plus `dense` (the
 * pre-activation is computed by `denseLogits`); any other layer gives its own output.
 */
export function layersLogitsSource(layer: tf.layers.Layer): LayersLogitsSource {
  const cls = layer.getClassName();
  const act = activationName(layer);
  if (cls === 'Softmax' || (cls === 'Activation' && act === 'softmax')) {
    return { tensor: layer.inboundNodes[0]!.inputTensors[0]!, softmax: `${cls} layer "${layer.name}"` };
  }
  if (cls === 'Dense' && act === 'softmax') {
    return { tensor: layer.inboundNodes[0]!.inputTensors[0]!, dense: layer, softmax: `softmax activation of "${layer.name}"` };
  }
  return { tensor: outputOf(layer) };
}

/** The pre-activation of a Dense layer: x [B, D] * kernel [D, C] (+ bias [C]) -> [B, C]. */
export function denseLogits(x: tf.Tensor2D, dense: tf.layers.Layer): tf.Tensor2D {
  return tf.tidy((): tf.Tensor2D => {
    const [kernel, bias] = dense.getWeights();
    const z = tf.matMul(x, kernel as tf.Tensor2D) as tf.Tensor2D;
    return bias != null ? (tf.add(z, bias) as tf.Tensor2D) : z;
  });
}

/** A LayersModel's logits in inference mode: x [B, ...] -> [B, C]; a final softmax is looked through. */
export interface LogitsPredictor {
  predict(x: tf.Tensor): tf.Tensor;
  /** The softmax that was looked through, undefined when the model outputs logits. */
  readonly softmax?: string;
}

/**
 * x -> logits of a LayersModel's last output (inference mode), looking through a final softmax. The returned
 * predictor shares the model's layers and weights (nothing to dispose; the model must outlive it).
 */
export function layersLogitsPredictor(model: tf.LayersModel): LogitsPredictor {
  const last = (x: tf.Tensor): tf.Tensor => {
    const out = model.predict(x) as tf.Tensor | tf.Tensor[];
    if (!Array.isArray(out)) return out;
    const keep = out[out.length - 1]!;
    tf.dispose(out.slice(0, -1));
    return keep;
  };
  const source = layersLogitsSource(model.outputs[model.outputs.length - 1]!.sourceLayer);
  if (source.softmax === undefined) return { predict: last };
  const before = tf.model({ inputs: model.inputs, outputs: source.tensor });
  const dense = source.dense;
  return {
    softmax: source.softmax,
    predict: (x) => {
      const z = before.predict(x) as tf.Tensor;
      if (dense == null) return z;
      const logits = denseLogits(z as tf.Tensor2D, dense);
      z.dispose();
      return logits;
    },
  };
}

/** A node of a GraphModel's topology (the fields the rule reads). */
export interface GraphNodeInfo {
  readonly name?: string;
  readonly op?: string;
  readonly input?: readonly string[];
}

/** 'name:0' -> 'name'; '^ctrl' (a control input) -> 'ctrl'. */
export function graphNodeBaseName(name: string): string {
  return name.replace(/^\^/, '').replace(/:\d+$/, '');
}

/**
 * The node holding a GraphModel's logits, given its output node: through `Identity` nodes (what converted SavedModels
 * end with) to a `Softmax` node, whose data input is the logits; `output` itself when it is not a softmax.
 */
export function graphLogitsNode(nodes: readonly GraphNodeInfo[], output: string): string {
  const byName = new Map(nodes.map((n) => [n.name ?? '', n]));
  let name = graphNodeBaseName(output);
  for (let hops = 0; hops < nodes.length; hops++) {
    const node = byName.get(name);
    const data = (node?.input ?? []).filter((i) => !i.startsWith('^'));
    if (node?.op === 'Softmax' && data.length > 0) return graphNodeBaseName(data[0]!);
    if (node?.op !== 'Identity' || data.length === 0) break;
    name = graphNodeBaseName(data[0]!);
  }
  return output;
}

/** The topology nodes of a loaded GraphModel (empty when tfjs does not keep them). */
export function graphModelNodes(model: tf.GraphModel): GraphNodeInfo[] {
  const internal = model as unknown as { artifacts?: { modelTopology?: { node?: GraphNodeInfo[] } } };
  return internal.artifacts?.modelTopology?.node ?? [];
}

/** x -> logits of a GraphModel's last output node, looking through a final Softmax (via Identity nodes). */
export function graphLogitsPredictor(model: tf.GraphModel): LogitsPredictor {
  const output = model.outputNodes[model.outputNodes.length - 1]!;
  const node = graphLogitsNode(graphModelNodes(model), output);
  const input = model.inputs[0]!.name;
  return {
    ...(node !== output ? { softmax: `Softmax node before "${graphNodeBaseName(output)}"` } : {}),
    predict: (x) => model.execute({ [input]: x }, node) as tf.Tensor,
  };
}

/** x -> logits of a LayersModel or GraphModel, looking through a final softmax (see the module comment). */
export function logitsPredictor(model: tf.LayersModel | tf.GraphModel): LogitsPredictor {
  return model instanceof tf.GraphModel ? graphLogitsPredictor(model) : layersLogitsPredictor(model);
}
