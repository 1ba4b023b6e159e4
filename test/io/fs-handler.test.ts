import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/runtime/tf.js';
import {
  ModelFileError,
  fileSystemHandler,
  loadGraphModelFromDir,
  loadLayersModelFromDir,
} from '../../src/io/index.js';
import { leakedTensors, useWasm } from '../helpers.js';

let root: string;
let n = 0;
const fresh = (): string => path.join(root, `m${n++}`);

/** A small conv/BN/relu/dense model with fixed seeds. */
function smallModel(): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 3] });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false,
    kernelInitializer: tf.initializers.heNormal({ seed: 1 }) }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.activation({ activation: 'relu' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 5, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

async function saved(): Promise<string> {
  const dir = fresh();
  const m = smallModel();
  await m.save(fileSystemHandler(dir));
  m.dispose();
  return dir;
}

async function editJSON(dir: string, edit: (json: Record<string, any>) => void): Promise<void> {
  const file = path.join(dir, 'model.json');
  const json = JSON.parse(await readFile(file, 'utf8')) as Record<string, any>;
  edit(json);
  await writeFile(file, JSON.stringify(json));
}

async function refusal(p: Promise<unknown>): Promise<ModelFileError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ModelFileError);
    return err as ModelFileError;
  }
  throw new Error('expected a ModelFileError');
}

beforeAll(async () => {
  await useWasm();
  root = await mkdtemp(path.join(tmpdir(), 'cds-io-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('fileSystemHandler', () => {
  it('saves model.json + weights.bin (no temporary files left) and loads identical predictions', async () => {
    const dir = fresh();
    const m = smallModel();
    await m.save(fileSystemHandler(dir));
    expect((await readdir(dir)).sort()).toEqual(['model.json', 'weights.bin']);
    const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
    expect(json.format).toBe('layers-model');
    expect(json.weightsManifest[0].paths).toEqual(['weights.bin']);
    const loaded = await tf.loadLayersModel(fileSystemHandler(dir));
    const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 3);
    const a = m.predict(x) as tf.Tensor;
    const b = loaded.predict(x) as tf.Tensor;
    expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]).toBe(0);
    // Saving again over the same directory replaces the files.
    await loaded.save(fileSystemHandler(dir));
    expect((await readdir(dir)).sort()).toEqual(['model.json', 'weights.bin']);
    tf.dispose([x, a, b]);
    m.dispose();
    loaded.dispose();
  });

  it('accepts the path of the model JSON file and loads through loadLayersModelFromDir without leaks', async () => {
    const dir = await saved();
    const before = tf.memory().numTensors;
    const model = await loadLayersModelFromDir(path.join(dir, 'model.json'));
    const weights = model.weights.length;
    expect(tf.memory().numTensors - before).toBe(weights);
    expect(await leakedTensors(() => tf.tidy(() => { model.predict(tf.zeros([1, 8, 8, 3])); }))).toBe(0);
    model.dispose();
  });

  it('refuses a weight path that leaves the directory', async () => {
    for (const bad of ['../weights.bin', '/etc/passwd', 'sub/../../x.bin', 'C:\\w.bin', 'http://example.com/w.bin']) {
      const dir = await saved();
      await editJSON(dir, (j) => { j.weightsManifest[0].paths = [bad]; });
      const err = await refusal(tf.loadLayersModel(fileSystemHandler(dir)));
      expect(err.message).toContain(path.join(dir, 'model.json'));
      expect(err.message).toContain(`"${bad}" points outside the model's directory`);
    }
  });

  it('refuses weight files shorter than the manifest declares', async () => {
    const dir = await saved();
    const wfile = path.join(dir, 'weights.bin');
    const bytes = await readFile(wfile);
    await writeFile(wfile, bytes.subarray(0, bytes.byteLength - 8));
    const err = await refusal(loadLayersModelFromDir(dir));
    expect(err.message).toContain(wfile);
    expect(err.message).toContain(`${bytes.byteLength - 8} bytes, but model.json declares ${bytes.byteLength} bytes`);
    expect(err.file).toBe(wfile);
  });

  it('refuses a missing weight file and a missing model.json, naming them', async () => {
    const dir = await saved();
    await rm(path.join(dir, 'weights.bin'));
    let err = await refusal(loadLayersModelFromDir(dir));
    expect(err.message).toContain(`${path.join(dir, 'weights.bin')} does not exist`);
    err = await refusal(loadLayersModelFromDir(path.join(root, 'nowhere')));
    expect(err.message).toContain(`${path.join(root, 'nowhere', 'model.json')} does not exist`);
    await writeFile(path.join(dir, 'model.json'), '{ not json');
    err = await refusal(loadLayersModelFromDir(dir));
    expect(err.message).toMatch(/model\.json is not valid JSON/);
  });

  it('refuses absurd shapes', async () => {
    const cases: [unknown, string][] = [
      [[-3, 4], 'has the size -3 (expected a non-negative integer)'],
      [[65536, 65536], 'declares 4294967296 elements (more than 2^31 - 1)'],
      [[2.5], 'has the size 2.5'],
    ];
    for (const [shape, msg] of cases) {
      const dir = await saved();
      await editJSON(dir, (j) => { j.weightsManifest[0].weights[0].shape = shape; });
      const err = await refusal(loadLayersModelFromDir(dir));
      expect(err.message).toContain(path.join(dir, 'model.json'));
      expect(err.message).toContain(msg);
    }
    const dir = await saved();
    await editJSON(dir, (j) => { j.modelTopology.config.layers[0].config.batch_input_shape = [null, 100000, 100000, 3]; });
    const err = await refusal(loadLayersModelFromDir(dir));
    expect(err.message).toContain('input shape [null,100000,100000,3] declares');
  });

  it('refuses an unknown layer class, saying how to register it', async () => {
    const dir = await saved();
    await editJSON(dir, (j) => {
      const layer = j.modelTopology.config.layers.find((l: any) => l.class_name === 'Activation');
      layer.class_name = 'MyFancyLayer';
    });
    const err = await refusal(tf.loadLayersModel(fileSystemHandler(dir)));
    expect(err.message).toContain(path.join(dir, 'model.json'));
    expect(err.message).toContain('has the class "MyFancyLayer", which tfjs does not know');
    expect(err.message).toContain('tf.serialization.registerClass(MyFancyLayer)');
  });

  it('wraps other build failures (weights of the wrong shape) with the file name', async () => {
    const dir = await saved();
    await editJSON(dir, (j) => {
      const dense = j.modelTopology.config.layers.find((l: any) => l.class_name === 'Dense');
      dense.config.units = 6;
    });
    const err = await refusal(loadLayersModelFromDir(dir));
    expect(err.message).toContain(`${path.join(dir, 'model.json')}: cannot build the model`);
  });

  it('loads a GraphModel directory with several weight shards', async () => {
    const dir = fresh();
    const { mkdir } = await import('node:fs/promises');
    await mkdir(path.join(dir, 'shards'), { recursive: true });
    const w = new Float32Array([1, 2, 3, 4, 5, 6]);
    const buf = Buffer.from(w.buffer);
    await writeFile(path.join(dir, 'shards', 'a.bin'), buf.subarray(0, 10));
    await writeFile(path.join(dir, 'shards', 'b.bin'), buf.subarray(10));
    const json = {
      format: 'graph-model',
      modelTopology: {
        node: [
          { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [{ size: '-1' }, { size: '2' }] } } } },
          { name: 'w', op: 'Const', attr: { dtype: { type: 'DT_FLOAT' }, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: '2' }, { size: '3' }] } } } } },
          { name: 'y', op: 'MatMul', input: ['x', 'w'], attr: { T: { type: 'DT_FLOAT' }, transpose_a: { b: false }, transpose_b: { b: false } } },
        ],
        versions: { producer: 1 },
      },
      weightsManifest: [{ paths: ['shards/a.bin', 'shards/b.bin'], weights: [{ name: 'w', shape: [2, 3], dtype: 'float32' }] }],
    };
    await writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
    const g = await loadGraphModelFromDir(dir);
    const y = g.execute(tf.tensor2d([[1, 1]])) as tf.Tensor;
    expect(Array.from(y.dataSync())).toEqual([5, 7, 9]);
    tf.dispose(y);
    g.dispose();
  });
});
