/**
 * A small tfjs GraphModel written by hand (tfjs cannot convert to the graph format in-process): the model.json a
 * `tensorflowjs_converter --input_format tf_saved_model` run produces, with Const weight nodes in one shard.
 *
 * image [-1, H, W, C] -> block1/conv (3x3, 4 filters, same) -> block1/relu -> block2/conv (3x3 stride 2, 6 filters,
 * same) -> block2/relu -> pool (Mean over H, W) -> fc/matmul -> logits (BiasAdd) -> probs (Softmax, the output).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';

export interface GraphWeights {
  /** [3, 3, C, 4] */
  readonly w1: Float32Array;
  /** [3, 3, 4, 6] */
  readonly w2: Float32Array;
  /** [6, classes] */
  readonly wfc: Float32Array;
  /** [classes] */
  readonly bfc: Float32Array;
}

/** Deterministic weights in [-scale, scale) (a small LCG, no tf needed). */
export function graphWeights(channels: number, classes: number, seed = 1, scale = 0.5): GraphWeights {
  let s = seed >>> 0;
  const fill = (n: number): Float32Array =>
    Float32Array.from({ length: n }, () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return (s / 2 ** 32 - 0.5) * 2 * scale;
    });
  return { w1: fill(9 * channels * 4), w2: fill(9 * 4 * 6), wfc: fill(6 * classes), bfc: fill(classes) };
}

/** Write the graph model (model.json + one weight shard) into `dir`. */
export async function writeGraphModel(
  dir: string,
  input: readonly [number, number, number],
  classes: number,
  w: GraphWeights,
  /** Declare the image's height and width as unknown (-1), as a converter does for a size-agnostic model. */
  unknownSize = false,
): Promise<void> {
  const [H, W, C] = input;
  const hw = (n: number): string => (unknownSize ? '-1' : String(n));
  const F = { type: 'DT_FLOAT' };
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  const constNode = (name: string, dims: number[], dtype = 'DT_FLOAT') => ({
    name,
    op: 'Const',
    attr: { dtype: { type: dtype }, value: { tensor: { dtype, tensorShape: { dim: dims.map((d) => ({ size: String(d) })) } } } },
  });
  const conv = (name: string, inputs: string[], stride: number) => ({
    name,
    op: 'Conv2D',
    input: inputs,
    attr: {
      T: F,
      strides: { list: { i: ['1', String(stride), String(stride), '1'] } },
      padding: { s: b64('SAME') },
      data_format: { s: b64('NHWC') },
      dilations: { list: { i: ['1', '1', '1', '1'] } },
      use_cudnn_on_gpu: { b: true },
    },
  });
  const json = {
    format: 'graph-model',
    generatedBy: '2.15.0',
    convertedBy: 'TensorFlow.js Converter v4.22.0',
    signature: {
      inputs: { image: { name: 'image:0', dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: '-1' }, { size: hw(H) }, { size: hw(W) }, { size: String(C) }] } } },
      outputs: { probs: { name: 'probs:0', dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: '-1' }, { size: String(classes) }] } } },
    },
    modelTopology: {
      node: [
        {
          name: 'image',
          op: 'Placeholder',
          attr: { dtype: F, shape: { shape: { dim: [{ size: '-1' }, { size: hw(H) }, { size: hw(W) }, { size: String(C) }] } } },
        },
        constNode('w1', [3, 3, C, 4]),
        conv('block1/conv', ['image', 'w1'], 1),
        { name: 'block1/relu', op: 'Relu', input: ['block1/conv'], attr: { T: F } },
        constNode('w2', [3, 3, 4, 6]),
        conv('block2/conv', ['block1/relu', 'w2'], 2),
        { name: 'block2/relu', op: 'Relu', input: ['block2/conv'], attr: { T: F } },
        constNode('axes', [2], 'DT_INT32'),
        { name: 'pool', op: 'Mean', input: ['block2/relu', 'axes'], attr: { T: F, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } } },
        constNode('wfc', [6, classes]),
        { name: 'fc/matmul', op: 'MatMul', input: ['pool', 'wfc'], attr: { T: F, transpose_a: { b: false }, transpose_b: { b: false } } },
        constNode('bfc', [classes]),
        { name: 'logits', op: 'BiasAdd', input: ['fc/matmul', 'bfc'], attr: { T: F, data_format: { s: b64('NHWC') } } },
        { name: 'probs', op: 'Softmax', input: ['logits'], attr: { T: F } },
      ],
      library: {},
      versions: { producer: 1 },
    },
    weightsManifest: [
      {
        paths: ['group1-shard1of1.bin'],
        weights: [
          { name: 'w1', shape: [3, 3, C, 4], dtype: 'float32' },
          { name: 'w2', shape: [3, 3, 4, 6], dtype: 'float32' },
          { name: 'axes', shape: [2], dtype: 'int32' },
          { name: 'wfc', shape: [6, classes], dtype: 'float32' },
          { name: 'bfc', shape: [classes], dtype: 'float32' },
        ],
      },
    ],
  };
  await mkdir(dir, { recursive: true });
  const parts = [w.w1, w.w2, new Int32Array([1, 2]), w.wfc, w.bfc].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  await writeFile(path.join(dir, 'group1-shard1of1.bin'), Buffer.concat(parts));
  await writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
}

/** Trainable numbers of the graph: its float Const weights. */
export function graphParams(C: number, classes: number): number {
  return 9 * C * 4 + 9 * 4 * 6 + 6 * classes + classes;
}
