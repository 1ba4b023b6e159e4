/**
 * Keras 3 model.json -> the Keras 2 layout tfjs 4.22 reads. Pure functions on the JSON; nothing is loaded here.
 *
 * What `tensorflowjs_converter` writes for a Keras 3 model, and what tfjs's deserialiser expects instead:
 *   InputLayer config `batch_shape`                          -> `batch_input_shape`
 *   `dtype` as a policy {module, class_name: 'DTypePolicy', config: {name}} -> the name ('float32'; a mixed policy
 *                                                               'mixed_float16' keeps float32 variables -> 'float32')
 *   `module`, `registered_name`, `build_config`, `compile_config` keys       -> dropped (everywhere)
 *   inbound node {args: [tensor | [tensor, ...]], kwargs: {...}}, tensor = {class_name: '__keras_tensor__',
 *     config: {shape, dtype, keras_history: [layer, node, index]}}          -> [[layer, node, index, kwargs], ...]
 *   `input_layers` / `output_layers` as one flat [name, 0, 0]              -> [[name, 0, 0]]
 *   weight names prefixed with the model's name ('sequential/conv2d/kernel') -> 'conv2d/kernel'
 * Nested models (a Functional or Sequential used as a layer) are translated the same way. A Keras 2 file is returned
 * unchanged (the same object).
 */

import { CdsDistillError } from '../errors.js';

type Json = unknown;
type Obj = Record<string, unknown>;

/** A Keras 3 topology that cannot be expressed in the Keras 2 layout (the message names the layer). */
export class Keras3LayoutError extends CdsDistillError {
  override name = 'Keras3LayoutError';
}

const CONTAINERS = new Set(['Functional', 'Model', 'Sequential']);
const DROPPED_KEYS = new Set(['module', 'registered_name', 'build_config', 'compile_config']);
const DTYPE_POLICIES = new Set(['DTypePolicy', 'FloatDTypePolicy', 'Policy']);

function isObj(v: unknown): v is Obj {
  return v != null && typeof v === 'object' && !Array.isArray(v);
}

function isKerasTensor(v: unknown): v is { config: { keras_history: [string, number, number] } } {
  return isObj(v) && v['class_name'] === '__keras_tensor__' && isObj(v['config']) &&
    Array.isArray((v['config'] as Obj)['keras_history']);
}

/** The model config inside a layers-model topology (`model_config` when the converter wraps it). */
function modelConfigOf(topology: Json): Obj | undefined {
  if (!isObj(topology)) return undefined;
  const inner = topology['model_config'];
  return isObj(inner) ? inner : topology;
}

/** True when any part of the topology uses a Keras 3 form listed above. */
export function isKeras3Topology(topology: Json): boolean {
  const seen = (v: unknown, key?: string): boolean => {
    if (Array.isArray(v)) return v.some((x) => seen(x));
    if (!isObj(v)) return false;
    if (Object.keys(v).some((k) => DROPPED_KEYS.has(k) || k === 'batch_shape')) return true;
    if (v['class_name'] === '__keras_tensor__' || ('args' in v && 'kwargs' in v)) return true;
    if (key === 'dtype' && DTYPE_POLICIES.has(String(v['class_name']))) return true;
    return Object.entries(v).some(([k, x]) => seen(x, k));
  };
  return seen(modelConfigOf(topology));
}

/** A dtype policy's dtype name; a mixed-precision policy keeps float32 variables. */
function policyDtype(policy: Obj): string {
  const name = String((policy['config'] as Obj | undefined)?.['name'] ?? 'float32');
  return name.startsWith('mixed_') ? 'float32' : name;
}

/** Generic pass: drop Keras 3-only keys, flatten dtype policies, rename `batch_shape` (any depth). */
function cleanValue(v: Json, key?: string): Json {
  if (Array.isArray(v)) return v.map((x) => cleanValue(x));
  if (!isObj(v)) return v;
  if (key === 'dtype' && DTYPE_POLICIES.has(String(v['class_name']))) return policyDtype(v);
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) {
    if (DROPPED_KEYS.has(k)) continue;
    if (k === 'batch_shape') {
      if (!('batch_input_shape' in v)) out['batch_input_shape'] = cleanValue(x);
      continue;
    }
    out[k] = cleanValue(x, k);
  }
  return out;
}

/** One Keras 3 inbound node -> the Keras 2 list of [layer, node, index, kwargs]. */
function translateNode(node: Json, layerName: string): Json {
  if (!isObj(node)) return cleanValue(node);
  const args = Array.isArray(node['args']) ? node['args'] : [];
  const kwargs: Obj = {};
  for (const [k, x] of Object.entries(isObj(node['kwargs']) ? node['kwargs'] : {})) {
    if (isKerasTensor(x) || (Array.isArray(x) && x.some(isKerasTensor))) {
      throw new Keras3LayoutError(`layer "${layerName}" is called with a tensor as its keyword argument "${k}", which ` +
        'the Keras 2 layout tfjs reads cannot express');
    }
    kwargs[k] = cleanValue(x);
  }
  const entries: Json[] = [];
  const visit = (a: unknown): void => {
    if (isKerasTensor(a)) {
      const [name, nodeIndex, tensorIndex] = a.config.keras_history;
      entries.push([name, nodeIndex, tensorIndex, kwargs]);
    } else if (Array.isArray(a)) {
      a.forEach(visit);
    } else {
      throw new Keras3LayoutError(`layer "${layerName}" is called with a constant positional argument ` +
        `(${JSON.stringify(a)}), which the Keras 2 layout tfjs reads cannot express`);
    }
  };
  args.forEach(visit);
  return entries;
}

/** [name, 0, 0] -> [[name, 0, 0]]; nested lists stay. */
function nestRefs(refs: Json): Json {
  if (Array.isArray(refs) && refs.length > 0 && typeof refs[0] === 'string') return [refs];
  return refs;
}

/** A layer entry of a container's `layers`: its config, its inbound nodes, a nested model's own layers. */
function translateLayer(layer: Json): Json {
  if (!isObj(layer)) return layer;
  const className = String(layer['class_name'] ?? '');
  const name = String((layer['config'] as Obj | undefined)?.['name'] ?? layer['name'] ?? '?');
  const out: Obj = {};
  for (const [k, x] of Object.entries(layer)) {
    if (DROPPED_KEYS.has(k)) continue;
    if (k === 'inbound_nodes' && Array.isArray(x)) out[k] = x.map((n) => (isObj(n) ? translateNode(n, name) : cleanValue(n)));
    else if (k === 'config' && CONTAINERS.has(className)) out[k] = translateContainerConfig(x);
    else out[k] = cleanValue(x, k);
  }
  if (out['name'] === undefined && isObj(out['config']) && typeof out['config']['name'] === 'string') {
    out['name'] = out['config']['name'];
  }
  return out;
}

function translateContainerConfig(config: Json): Json {
  if (!isObj(config)) return cleanValue(config);
  const out: Obj = {};
  for (const [k, x] of Object.entries(config)) {
    if (DROPPED_KEYS.has(k)) continue;
    if (k === 'layers' && Array.isArray(x)) out[k] = x.map(translateLayer);
    else if (k === 'input_layers' || k === 'output_layers') out[k] = nestRefs(cleanValue(x));
    else out[k] = cleanValue(x, k);
  }
  return out;
}

/** A model config {class_name, config, ...} (the converter's `model_config`). */
function translateModelConfig(mc: Obj): Obj {
  const out: Obj = {};
  for (const [k, x] of Object.entries(mc)) {
    if (DROPPED_KEYS.has(k)) continue;
    out[k] = k === 'config' ? translateContainerConfig(x) : cleanValue(x, k);
  }
  return out;
}

/**
 * Translate a layers-model topology (the model.json's `modelTopology`, with or without the `model_config` wrapper)
 * from the Keras 3 layout to the Keras 2 one. Returns the input itself when it is not Keras 3. Throws
 * Keras3LayoutError for a call the Keras 2 layout cannot express (tensor keyword arguments, constant arguments).
 */
export function keras3TopologyToKeras2(topology: Json): Json {
  if (!isKeras3Topology(topology) || !isObj(topology)) return topology;
  const wrapped = isObj(topology['model_config']);
  const mc = translateModelConfig(modelConfigOf(topology)!);
  return wrapped ? { ...(cleanValue(topology) as Obj), model_config: mc } : mc;
}

/** Names of the layers at the top of a model config (the first segment of every tfjs weight name). */
function topLayerNames(mc: Obj | undefined): Set<string> {
  const layers = (mc?.['config'] as Obj | undefined)?.['layers'];
  const names = new Set<string>();
  if (Array.isArray(layers)) {
    for (const l of layers) {
      const n = (isObj(l) && isObj(l['config']) ? l['config']['name'] : undefined) ?? (isObj(l) ? l['name'] : undefined);
      if (typeof n === 'string') names.add(n);
    }
  }
  return names;
}

/**
 * Weight names as tfjs looks them up ('layer/variable'): a Keras 3 converter's names carry the model's name first
 * ('sequential/conv2d/kernel'); that prefix is dropped when the rest starts with one of the model's layers. Other names
 * are kept. `topology`: the (translated or not) modelTopology.
 */
export function keras3WeightName(name: string, topology: Json): string {
  const mc = modelConfigOf(topology);
  const modelName = (mc?.['config'] as Obj | undefined)?.['name'];
  if (typeof modelName !== 'string') return name;
  const layers = topLayerNames(mc);
  const first = name.split('/')[0]!;
  if (layers.has(first) || !name.startsWith(`${modelName}/`)) return name;
  const rest = name.slice(modelName.length + 1);
  return layers.has(rest.split('/')[0]!) ? rest : name;
}

/**
 * A whole model.json (parsed): the topology translated (keras3TopologyToKeras2) and the manifest's weight names fixed
 * (keras3WeightName). Returns the input itself for a Keras 2 or graph-model file.
 */
export function keras3ModelJSONToKeras2<T extends { modelTopology?: unknown; weightsManifest?: unknown; format?: string }>(json: T): T {
  if (json.format === 'graph-model' || !isKeras3Topology(json.modelTopology)) return json;
  const modelTopology = keras3TopologyToKeras2(json.modelTopology);
  const manifest = Array.isArray(json.weightsManifest)
    ? (json.weightsManifest as Obj[]).map((group) => ({
        ...group,
        weights: Array.isArray(group['weights'])
          ? (group['weights'] as Obj[]).map((w) => (typeof w['name'] === 'string'
            ? { ...w, name: keras3WeightName(w['name'], json.modelTopology) }
            : w))
          : group['weights'],
      }))
    : json.weightsManifest;
  return { ...json, modelTopology, weightsManifest: manifest };
}
