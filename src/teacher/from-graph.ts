/** (c) A tfjs GraphModel as a teacher: stage, pooled and logits nodes by name. */
import { tf } from '../runtime/tf.js';
import { graphLogitsNode } from '../models/logits.js';
import { STAGE_CANDIDATE_OPS } from '../models/inspect.js';
import { checkClasses, resolveInputShape, Teacher, TeacherError } from './teacher.js';
import type { LoadTeacherOptions } from './teacher.js';

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

function suggestNodes(nodes: GraphNodeJSON[], missing: string): string {
  const names = nodes.filter((n) => STAGE_CANDIDATE_OPS.has(n.op ?? '')).map((n) => n.name ?? '');
  const all = names.length > 0 ? names : nodes.map((n) => n.name ?? '');
  const near = all.filter((n) => n.toLowerCase().includes(missing.toLowerCase()));
  const pick = [...new Set([...near, ...all])].slice(0, 8);
  return `${pick.join(', ')}${all.length > pick.length ? `, ... (${all.length} nodes)` : ''}`;
}

export function teacherFromGraphModel(
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
  // Node names come as stageNodes/logitsNode/pooledNode, or under the layer option names (one list for either kind).
  const stageNodes = (options.stageNodes ?? options.stageLayers ?? []).map((n) => check(n, 'stage node'));
  // The given node or the output node, looking through a final Softmax (the one rule, in models/logits.ts).
  const logitsNode = graphLogitsNode(nodes, check(options.logitsNode ?? options.logitsLayer ?? model.outputNodes[model.outputNodes.length - 1]!,
    'logits node'));
  const pooledName = options.pooledNode ?? options.pooledLayer;
  const pooledNode = pooledName != null ? check(pooledName, 'pooled node') : undefined;
  if (model.inputs.length !== 1) {
    throw new TeacherError(`teacher ${source} has ${model.inputs.length} inputs (expected one image input)`);
  }
  const inputInfo = model.inputs[0]!;
  const inputShape = resolveInputShape(inputInfo.shape?.slice(1) ?? [null, null, null], options.inputShape, source);
  const fetch = [...stageNodes, ...(pooledNode != null ? [pooledNode] : []), logitsNode];
  const nf = stageNodes.length;
  const execute = (x: tf.Tensor4D): tf.Tensor[] => {
    const outs = model.execute({ [inputInfo.name]: x }, fetch) as tf.Tensor | tf.Tensor[];
    return Array.isArray(outs) ? outs : [outs];
  };
  const run = (x: tf.Tensor4D): tf.Tensor[] => {
    const list = execute(x);
    const features = list.slice(0, nf);
    // No stages and no pooled node: a logits-only teacher whose pooled feature is empty ([B, 0]).
    const pooled = pooledNode != null ? list[nf]! : nf > 0 ? tf.mean(features[nf - 1]!, [1, 2]) : tf.zeros([x.shape[0], 0]);
    return [...features, pooled, list[list.length - 1]!];
  };
  // One probe pass to learn the shapes (and check ranks) before anything trains against them.
  const raw = tf.tidy(() => execute(tf.zeros([1, ...inputShape]) as tf.Tensor4D).map((t) => t.shape));
  const pooledProbe = pooledNode != null ? raw[nf]! : nf > 0 ? [1, raw[nf - 1]![3] ?? 0] : [1, 0];
  const probe = [...raw.slice(0, nf), pooledProbe, raw[raw.length - 1]!];
  probe.slice(0, nf).forEach((s, i) => {
    if (s.length !== 4) {
      throw new TeacherError(`stage node "${stageNodes[i]}" of ${source} has shape ${JSON.stringify(s)} ` +
        `(expected a spatial feature [batch, H, W, C]); valid node names include: ${suggestNodes(nodes, '')}`);
    }
  });
  const pooledShape = probe[nf]!;
  const logitsShape = probe[nf + 1]!;
  if (pooledShape.length !== 2 || (pooledNode != null && pooledShape[1] === 0)) {
    throw new TeacherError(`pooled node "${pooledNode}" of ${source} has shape ${JSON.stringify(pooledShape)} (expected [batch, D])`);
  }
  if (logitsShape.length !== 2) {
    throw new TeacherError(`logits node "${logitsNode}" of ${source} has shape ${JSON.stringify(logitsShape)} ` +
      `(expected [batch, classes]); name the logits node with --teacher-logits NODE (options.logitsNode)`);
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
