/**
 * Static description of a model: per-layer and per-stage output shapes, parameter counts and multiply-accumulates.
 * Pure: nothing is printed and no tensor is created.
 *
 * MACs are counted per image, for the layers that multiply-accumulate, as the usual CIFAR figures do:
 *   Conv2D (incl. the zoo's grouped conv)  H_out * W_out * K_h * K_w * (C_in / groups) * C_out
 *   DepthwiseConv2D                        H_out * W_out * K_h * K_w * C_in * depthMultiplier
 *   SeparableConv2D                        depthwise part + H_out * W_out * C_in * mult * C_out
 *   Conv2DTranspose                        H_in * W_in * K_h * K_w * C_in * C_out
 *   Conv1D                                 L_out * K * C_in * C_out
 *   Dense                                  D_in * D_out (times the leading non-batch dims, if any)
 * Biases, BatchNorm, activations, additions and pooling count 0.
 */
import type { tf } from '../runtime/tf.js';
import type { TappedModel } from './types.js';

export type OutputShape = readonly (number | null)[];

export interface LayerInspection {
  readonly name: string;
  /** tfjs class name (e.g. 'Conv2D', 'BatchNormalization', 'CdsGroupedConv2D'). */
  readonly className: string;
  /** Output shape without the batch dimension (the first output, for a layer with several). */
  readonly outputShape: OutputShape;
  /** Parameters that train (0 for a frozen layer). */
  readonly trainableParams: number;
  /** All weights, including BatchNorm moving mean/variance. */
  readonly totalParams: number;
  /** Multiply-accumulates per image. */
  readonly macs: number;
  /** Group from the zoo's naming scheme: 'stem', 'stage1'..'stageK', 'head', 'input' or 'other'. */
  readonly group: string;
}

export interface GroupInspection {
  /** 'stem', 'stage1'..'stageK', 'head' (zoo naming), 'input' or 'other'. */
  readonly name: string;
  readonly layers: number;
  /** Output shape of the group's last layer (topological order), without the batch dimension. */
  readonly outputShape: OutputShape;
  readonly trainableParams: number;
  readonly totalParams: number;
  readonly macs: number;
}

export interface FeatureInspection {
  /** Index into the tapped model's features. */
  readonly index: number;
  /** The layer whose output is tapped. */
  readonly layerName: string;
  /** [H, W, C]. */
  readonly shape: readonly [number, number, number];
  /** Whether it is one of the stages CDS / deep supervision put heads on (see TappedModel.stageIndices). */
  readonly isStage: boolean;
}

export interface ModelInspection {
  readonly name: string;
  /** Input shape without the batch dimension. */
  readonly inputShape: OutputShape;
  readonly layers: readonly LayerInspection[];
  /** Layers aggregated by group, in order of first appearance. */
  readonly groups: readonly GroupInspection[];
  /** Only for a TappedModel: its feature taps. */
  readonly features?: readonly FeatureInspection[];
  /** Only for a TappedModel. */
  readonly pooledDim?: number;
  readonly trainableParams: number;
  readonly nonTrainableParams: number;
  readonly totalParams: number;
  /** Multiply-accumulates per image (sum over layers). */
  readonly macs: number;
}

function product(dims: readonly (number | null)[]): number {
  return dims.reduce<number>((a, d) => a * (d ?? 1), 1);
}

function countWeights(weights: readonly tf.LayerVariable[]): number {
  return weights.reduce((s, w) => s + product(w.shape), 0);
}

function isShapeList(s: unknown): s is (number | null)[][] {
  return Array.isArray(s) && s.length > 0 && Array.isArray(s[0]);
}

/** The layer's output shape with batch; falls back to its first call when the layer was called with different shapes. */
function outputShapeOf(layer: tf.layers.Layer): (number | null)[] {
  let shape: unknown;
  try {
    shape = layer.outputShape;
  } catch {
    shape = layer.inboundNodes[0]?.outputShapes;
  }
  if (isShapeList(shape)) return shape[0]!;
  return Array.isArray(shape) ? (shape as (number | null)[]) : [];
}

function inputShapeOf(layer: tf.layers.Layer): (number | null)[] {
  let shape: unknown;
  try {
    shape = layer.inboundNodes[0]?.inputShapes;
  } catch {
    shape = undefined;
  }
  if (isShapeList(shape)) return shape[0]!;
  return Array.isArray(shape) ? (shape as (number | null)[]) : [];
}

function weightShape(layer: tf.layers.Layer, suffix: string): number[] | undefined {
  const w = layer.weights.find((v) => v.originalName.endsWith(`/${suffix}`) || v.originalName === suffix);
  return w?.shape.map((d) => d ?? 1);
}

function layerMacs(layer: tf.layers.Layer, out: (number | null)[]): number {
  const cls = layer.getClassName();
  const spatialOut = product(out.slice(1, -1));
  switch (cls) {
    case 'Conv2D':
    case 'Conv1D':
    case 'Conv3D':
    case 'CdsGroupedConv2D': {
      // kernel [...K, C_in / groups, C_out]
      const k = weightShape(layer, 'kernel');
      return k == null ? 0 : spatialOut * product(k);
    }
    case 'DepthwiseConv2D': {
      const k = weightShape(layer, 'depthwise_kernel');
      return k == null ? 0 : spatialOut * product(k);
    }
    case 'SeparableConv2D': {
      const dk = weightShape(layer, 'depthwise_kernel');
      const pk = weightShape(layer, 'pointwise_kernel');
      return (dk == null ? 0 : spatialOut * product(dk)) + (pk == null ? 0 : spatialOut * product(pk));
    }
    case 'Conv2DTranspose': {
      const k = weightShape(layer, 'kernel');
      const inp = inputShapeOf(layer);
      return k == null ? 0 : product(inp.slice(1, -1)) * product(k);
    }
    case 'Dense': {
      const k = weightShape(layer, 'kernel');
      return k == null ? 0 : product(out.slice(1, -1)) * product(k);
    }
    default:
      return 0;
  }
}

const GROUP_RE = /^(stem|stage\d+|head)(_|$)/;

function groupOf(layer: tf.layers.Layer): string {
  if (layer.getClassName() === 'InputLayer') return 'input';
  const m = GROUP_RE.exec(layer.name);
  return m ? m[1]! : 'other';
}

function isTapped(model: tf.LayersModel | TappedModel): model is TappedModel {
  return (model as TappedModel).featureShapes !== undefined && (model as TappedModel).net !== undefined;
}

/** Describe a LayersModel or a zoo TappedModel: shapes, parameters (trainable / total) and MACs per layer and stage. */
export function inspect(model: tf.LayersModel | TappedModel): ModelInspection {
  const net = isTapped(model) ? model.net : model;
  const layers: LayerInspection[] = net.layers.map((layer) => {
    const out = outputShapeOf(layer);
    return {
      name: layer.name,
      className: layer.getClassName(),
      outputShape: out.slice(1),
      trainableParams: countWeights(layer.trainableWeights),
      totalParams: countWeights(layer.weights),
      macs: layerMacs(layer, out),
      group: groupOf(layer),
    };
  });

  const groups = new Map<string, { layers: number; outputShape: OutputShape; trainableParams: number; totalParams: number; macs: number }>();
  for (const l of layers) {
    const g = groups.get(l.group) ?? { layers: 0, outputShape: [], trainableParams: 0, totalParams: 0, macs: 0 };
    g.layers += 1;
    g.outputShape = l.outputShape;
    g.trainableParams += l.trainableParams;
    g.totalParams += l.totalParams;
    g.macs += l.macs;
    groups.set(l.group, g);
  }

  const trainableParams = layers.reduce((s, l) => s + l.trainableParams, 0);
  const totalParams = layers.reduce((s, l) => s + l.totalParams, 0);
  const result: ModelInspection = {
    name: isTapped(model) ? model.name : net.name,
    inputShape: (net.inputs[0]?.shape ?? []).slice(1),
    layers,
    groups: [...groups].map(([name, g]) => ({ name, ...g })),
    trainableParams,
    nonTrainableParams: totalParams - trainableParams,
    totalParams,
    macs: layers.reduce((s, l) => s + l.macs, 0),
  };
  if (!isTapped(model)) return result;
  const stages = new Set(model.stageIndices);
  return {
    ...result,
    features: model.featureShapes.map((shape, index) => ({
      index,
      layerName: net.outputs[index]?.sourceLayer.name ?? '',
      shape: [shape[0], shape[1], shape[2]] as const,
      isStage: stages.has(index),
    })),
    pooledDim: model.pooledDim,
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Graph models (tensorflowjs_converter's 'graph-model' format): described from the JSON, node shapes optional.

/** Ops whose output can serve as a stage feature (the converter fuses conv + bias + activation into _FusedConv2D). */
export const STAGE_CANDIDATE_OPS: ReadonlySet<string> = new Set(['Relu', 'Relu6', 'Elu', 'Selu', 'LeakyRelu', 'Conv2D',
  '_FusedConv2D', 'FusedBatchNorm', 'FusedBatchNormV3', 'Add', 'AddV2', 'AddN', 'MaxPool', 'AvgPool',
  'DepthwiseConv2dNative', 'FusedDepthwiseConv2dNative', 'BiasAdd']);

export interface GraphTensorInfo {
  readonly name: string;
  /** With the batch dimension; null where unknown (-1). Empty when the rank is unknown. */
  readonly shape: readonly (number | null)[];
  readonly dtype: string;
}

export interface GraphStageCandidate {
  readonly name: string;
  readonly op: string;
  /** [H, W, C] when the node shapes were probed. */
  readonly shape?: readonly number[];
}

export interface GraphInspection {
  readonly kind: 'graph';
  readonly name: string;
  readonly inputs: readonly GraphTensorInfo[];
  /** Output node names (the signature's, else the nodes nothing reads). */
  readonly outputs: readonly string[];
  /** Nodes in the graph (Const weight nodes included). */
  readonly nodes: number;
  /** Node count per op, most frequent first. */
  readonly ops: readonly { readonly op: string; readonly count: number }[];
  /** Floating-point weight values in the weights manifest. */
  readonly params: number;
  /**
   * Nodes to pass to --teacher-stages: with probed shapes, the last spatial (rank-4) candidate node at each resolution
   * in graph order (as findStageLayers picks layers); without shapes, every node of a STAGE_CANDIDATE_OPS op.
   */
  readonly stageCandidates: readonly GraphStageCandidate[];
  /** Whether stageCandidates come from probed shapes. */
  readonly probed: boolean;
}

interface GraphNodeDef {
  readonly name?: string;
  readonly op?: string;
  readonly input?: readonly string[];
  readonly attr?: Record<string, unknown>;
}

interface GraphModelJSON {
  readonly modelTopology?: unknown;
  readonly weightsManifest?: readonly { readonly weights?: readonly { readonly shape?: readonly number[]; readonly dtype?: string }[] }[];
  readonly signature?: { readonly outputs?: Record<string, { readonly name?: string }> };
}

/** A node input reference ("^ctrl", "node:1") -> the node's name. */
function inputNode(ref: string): string {
  return ref.replace(/^\^/, '').replace(/:\d+$/, '');
}

function placeholderShape(node: GraphNodeDef): (number | null)[] {
  const shape = (node.attr?.['shape'] as { shape?: { dim?: { size?: string | number }[]; unknownRank?: boolean } } | undefined)?.shape;
  if (shape == null || shape.unknownRank || !Array.isArray(shape.dim)) return [];
  return shape.dim.map((d) => {
    const n = Number(d.size ?? -1);
    return n >= 0 ? n : null;
  });
}

function placeholderDtype(node: GraphNodeDef): string {
  const t = (node.attr?.['dtype'] as { type?: string } | undefined)?.type ?? 'DT_FLOAT';
  return t.replace(/^DT_/, '').toLowerCase().replace(/^float$/, 'float32');
}

/**
 * Describe a graph model from its model.json (`json`: the parsed file; `name`: how to call it). `shapes`: output shapes
 * (with batch) of nodes by name, e.g. probed by running the graph once; they pick the stage candidates. Pure.
 */
export function inspectGraph(name: string, json: unknown, shapes?: ReadonlyMap<string, readonly number[]>): GraphInspection {
  const model = json as GraphModelJSON;
  const nodes = ((model.modelTopology as { node?: GraphNodeDef[] } | undefined)?.node ?? []).filter((n) => n.name != null);
  const inputs: GraphTensorInfo[] = nodes
    .filter((n) => n.op === 'Placeholder')
    .map((n) => ({ name: n.name!, shape: placeholderShape(n), dtype: placeholderDtype(n) }));
  const read = new Set(nodes.flatMap((n) => (n.input ?? []).map(inputNode)));
  const signatureOutputs = Object.values(model.signature?.outputs ?? {})
    .map((o) => (o.name != null ? inputNode(o.name) : undefined))
    .filter((n): n is string => n != null);
  const outputs = signatureOutputs.length > 0
    ? signatureOutputs
    : nodes.filter((n) => !read.has(n.name!) && n.op !== 'Const' && n.op !== 'NoOp' && n.op !== 'Placeholder').map((n) => n.name!);
  const opCounts = new Map<string, number>();
  for (const n of nodes) opCounts.set(n.op ?? '?', (opCounts.get(n.op ?? '?') ?? 0) + 1);
  const ops = [...opCounts].map(([op, count]) => ({ op, count })).sort((a, b) => b.count - a.count || a.op.localeCompare(b.op));
  const params = (model.weightsManifest ?? [])
    .flatMap((g) => g.weights ?? [])
    .filter((w) => /^float/.test(w.dtype ?? 'float32'))
    .reduce((s, w) => s + (w.shape ?? []).reduce((a, d) => a * d, 1), 0);
  const candidates = nodes.filter((n) => STAGE_CANDIDATE_OPS.has(n.op ?? ''));
  let stageCandidates: GraphStageCandidate[];
  const probed = shapes != null && candidates.some((n) => shapes.has(n.name!));
  if (probed) {
    const lastAt = new Map<string, GraphNodeDef>();
    for (const n of candidates) {
      const s = shapes.get(n.name!);
      if (s == null || s.length !== 4) continue;
      lastAt.set(`${s[1]}x${s[2]}`, n);
    }
    const picked = new Set(lastAt.values());
    stageCandidates = candidates
      .filter((n) => picked.has(n))
      .map((n) => ({ name: n.name!, op: n.op!, shape: shapes.get(n.name!)!.slice(1) }));
  } else {
    stageCandidates = candidates.map((n) => ({ name: n.name!, op: n.op! }));
  }
  return { kind: 'graph', name, inputs, outputs, nodes: nodes.length, ops, params, stageCandidates, probed };
}
