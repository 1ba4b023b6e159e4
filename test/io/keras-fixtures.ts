/**
 * The same small CNN with BatchNormalization as tensorflowjs_converter writes it from Keras 2 (tf.keras 2.x) and from
 * Keras 3, functional and sequential, for the Keras 3 translation tests. The Keras 3 entries follow the converter's
 * real output: `module` / `registered_name` / `build_config` keys, dtype policies as objects, initializers with their
 * module, InputLayer `batch_shape`, inbound nodes as {args, kwargs} of `__keras_tensor__`s, a flat `input_layers`,
 * weight names prefixed with the model's name (sequential).
 *
 * Functional: input 8x8x3 -> conv2d (3x3, 4, same) -> batch_normalization -> activation (relu) -> conv2d_1 (3x3 stride
 * 2) and conv2d_2 (1x1 stride 2, the shortcut) -> add -> batch_normalization_1 -> global_average_pooling2d -> dense (3).
 * Sequential: the same without the shortcut and the add.
 */
export type Json = Record<string, unknown>;

export interface WeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

type LayerSpec = { cls: string; name: string; config: Json; inputs: string[]; inputShape: (number | null)[] };

const FUNCTIONAL: LayerSpec[] = [
  { cls: 'Conv2D', name: 'conv2d', config: conv(4, 3, 1), inputs: ['input_layer'], inputShape: [null, 8, 8, 3] },
  { cls: 'BatchNormalization', name: 'batch_normalization', config: bn(), inputs: ['conv2d'], inputShape: [null, 8, 8, 4] },
  { cls: 'Activation', name: 'activation', config: { activation: 'relu' }, inputs: ['batch_normalization'], inputShape: [null, 8, 8, 4] },
  { cls: 'Conv2D', name: 'conv2d_1', config: conv(4, 3, 2), inputs: ['activation'], inputShape: [null, 8, 8, 4] },
  { cls: 'Conv2D', name: 'conv2d_2', config: conv(4, 1, 2), inputs: ['activation'], inputShape: [null, 8, 8, 4] },
  { cls: 'Add', name: 'add', config: {}, inputs: ['conv2d_1', 'conv2d_2'], inputShape: [null, 4, 4, 4] },
  { cls: 'BatchNormalization', name: 'batch_normalization_1', config: bn(), inputs: ['add'], inputShape: [null, 4, 4, 4] },
  { cls: 'GlobalAveragePooling2D', name: 'global_average_pooling2d', config: { data_format: 'channels_last', keepdims: false }, inputs: ['batch_normalization_1'], inputShape: [null, 4, 4, 4] },
  { cls: 'Dense', name: 'dense', config: dense(3), inputs: ['global_average_pooling2d'], inputShape: [null, 4] },
];

const SEQUENTIAL: LayerSpec[] = FUNCTIONAL.filter((l) => l.name !== 'conv2d_2' && l.name !== 'add').map((l) =>
  l.name === 'batch_normalization_1' ? { ...l, inputs: ['conv2d_1'] } : l,
);

function conv(filters: number, k: number, s: number): Json {
  return {
    filters, kernel_size: [k, k], strides: [s, s], padding: 'same', data_format: 'channels_last', dilation_rate: [1, 1],
    groups: 1, activation: 'linear', use_bias: true, kernel_initializer: init('GlorotUniform', { seed: null }),
    bias_initializer: init('Zeros', {}), kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null,
    kernel_constraint: null, bias_constraint: null,
  };
}
function bn(): Json {
  return {
    axis: -1, momentum: 0.99, epsilon: 0.001, center: true, scale: true, beta_initializer: init('Zeros', {}),
    gamma_initializer: init('Ones', {}), moving_mean_initializer: init('Zeros', {}),
    moving_variance_initializer: init('Ones', {}), beta_regularizer: null, gamma_regularizer: null,
    beta_constraint: null, gamma_constraint: null,
  };
}
function dense(units: number): Json {
  return {
    units, activation: 'linear', use_bias: true, kernel_initializer: init('GlorotUniform', { seed: null }),
    bias_initializer: init('Zeros', {}), kernel_regularizer: null, bias_regularizer: null, kernel_constraint: null,
    bias_constraint: null,
  };
}
/** An initializer as Keras 2 writes it; `keras3` adds what Keras 3 writes. */
function init(cls: string, config: Json): Json {
  return { class_name: cls, config };
}

function weightSpecs(layers: LayerSpec[]): WeightSpec[] {
  const out: WeightSpec[] = [];
  let channels = 3;
  for (const l of layers) {
    if (l.cls === 'Conv2D') {
      const k = (l.config['kernel_size'] as number[])[0]!;
      const inC = l.inputShape[3]!;
      out.push({ name: `${l.name}/kernel`, shape: [k, k, inC, l.config['filters'] as number] }, { name: `${l.name}/bias`, shape: [l.config['filters'] as number] });
      channels = l.config['filters'] as number;
    } else if (l.cls === 'BatchNormalization') {
      for (const v of ['gamma', 'beta', 'moving_mean', 'moving_variance']) out.push({ name: `${l.name}/${v}`, shape: [channels] });
    } else if (l.cls === 'Dense') {
      out.push({ name: `${l.name}/kernel`, shape: [channels, l.config['units'] as number] }, { name: `${l.name}/bias`, shape: [l.config['units'] as number] });
    }
  }
  return out;
}

// ---- Keras 2 (tf.keras 2.15, tensorflowjs 4.x converter)

function keras2Layer(l: LayerSpec, functional: boolean): Json {
  const config = { name: l.name, trainable: true, dtype: 'float32', ...l.config };
  return functional
    ? { class_name: l.cls, config, name: l.name, inbound_nodes: [l.inputs.map((i) => [i, 0, 0, {}])] }
    : { class_name: l.cls, config };
}

export function keras2Topology(kind: 'functional' | 'sequential'): Json {
  const functional = kind === 'functional';
  const specs = functional ? FUNCTIONAL : SEQUENTIAL;
  const input = { class_name: 'InputLayer', config: { batch_input_shape: [null, 8, 8, 3], dtype: 'float32', sparse: false, ragged: false, name: 'input_layer' } };
  const layers = [functional ? { ...input, name: 'input_layer', inbound_nodes: [] } : input, ...specs.map((l) => keras2Layer(l, functional))];
  const config = functional
    ? { name: 'model', trainable: true, layers, input_layers: [['input_layer', 0, 0]], output_layers: [['dense', 0, 0]] }
    : { name: 'sequential', layers };
  return { keras_version: '2.15.0', backend: 'tensorflow', model_config: { class_name: functional ? 'Functional' : 'Sequential', config } };
}

// ---- Keras 3 (keras 3.5, tensorflowjs 4.22 converter)

const POLICY = { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null };

/** Keras 3's form of a nested serialisable (initializers): module and registered_name added. */
function keras3Value(v: unknown, key?: string): unknown {
  if (Array.isArray(v)) return v.map((x) => keras3Value(x));
  if (v != null && typeof v === 'object') {
    const o = v as Json;
    if (typeof o['class_name'] === 'string' && key?.endsWith('_initializer')) {
      return { module: 'keras.initializers', class_name: o['class_name'], config: o['config'], registered_name: null };
    }
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, keras3Value(x, k)]));
  }
  return v;
}

function tensor(name: string, shape: (number | null)[]): Json {
  return { class_name: '__keras_tensor__', config: { shape, dtype: 'float32', keras_history: [name, 0, 0] } };
}

function keras3Layer(l: LayerSpec, functional: boolean, outShapes: Map<string, (number | null)[]>): Json {
  const config = { name: l.name, trainable: true, dtype: POLICY, ...(keras3Value(l.config) as Json) };
  const layer: Json = { module: 'keras.layers', class_name: l.cls, config, registered_name: null };
  if (l.cls !== 'Activation' && l.cls !== 'Add') layer['build_config'] = { input_shape: l.inputShape };
  if (!functional) return layer;
  const args = l.inputs.map((i) => tensor(i, outShapes.get(i)!));
  layer['name'] = l.name;
  layer['inbound_nodes'] = [{
    args: l.cls === 'Add' ? [args] : args,
    kwargs: l.cls === 'BatchNormalization' ? { mask: null } : {},
  }];
  return layer;
}

export function keras3Topology(kind: 'functional' | 'sequential'): Json {
  const functional = kind === 'functional';
  const specs = functional ? FUNCTIONAL : SEQUENTIAL;
  const outShapes = new Map<string, (number | null)[]>([['input_layer', [null, 8, 8, 3]]]);
  const shapeAfter: Record<string, (number | null)[]> = {
    conv2d: [null, 8, 8, 4], batch_normalization: [null, 8, 8, 4], activation: [null, 8, 8, 4], conv2d_1: [null, 4, 4, 4],
    conv2d_2: [null, 4, 4, 4], add: [null, 4, 4, 4], batch_normalization_1: [null, 4, 4, 4], global_average_pooling2d: [null, 4],
  };
  for (const [k, v] of Object.entries(shapeAfter)) outShapes.set(k, v);
  const input: Json = {
    module: 'keras.layers', class_name: 'InputLayer',
    config: { batch_shape: [null, 8, 8, 3], dtype: 'float32', sparse: false, name: 'input_layer' }, registered_name: null,
  };
  const layers = [functional ? { ...input, name: 'input_layer', inbound_nodes: [] } : input, ...specs.map((l) => keras3Layer(l, functional, outShapes))];
  const modelConfig: Json = functional
    ? {
        module: 'keras.src.models.functional', class_name: 'Functional',
        // A single input and output, written flat as Keras 3 does.
        config: { name: 'functional', trainable: true, layers, input_layers: ['input_layer', 0, 0], output_layers: ['dense', 0, 0] },
        registered_name: 'Functional', build_config: { input_shape: null },
      }
    : {
        module: 'keras', class_name: 'Sequential',
        config: { name: 'sequential', trainable: true, dtype: POLICY, layers, build_input_shape: [null, 8, 8, 3] },
        registered_name: null, build_config: { input_shape: [null, 8, 8, 3] },
      };
  return { keras_version: '3.5.0', backend: 'tensorflow', model_config: modelConfig };
}

/** The weights of a topology in manifest order, and their names as each converter writes them. */
export function manifestWeights(kind: 'functional' | 'sequential', keras: 2 | 3): WeightSpec[] {
  const specs = weightSpecs(kind === 'functional' ? FUNCTIONAL : SEQUENTIAL);
  return keras === 3 && kind === 'sequential' ? specs.map((w) => ({ ...w, name: `sequential/${w.name}` })) : specs;
}
