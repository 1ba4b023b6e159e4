import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/runtime/tf.js';
import {
  isKeras3Topology,
  Keras3LayoutError,
  keras3ModelJSONToKeras2,
  keras3TopologyToKeras2,
  loadLayersModelFromDir,
} from '../../src/io/index.js';
import { loadTeacher } from '../../src/teacher/index.js';
import { loadModel } from '../../src/train/saved-models.js';
import { useWasm } from '../helpers.js';
import { keras2Topology, keras3Topology, manifestWeights } from './keras-fixtures.js';
import type { Json, WeightSpec } from './keras-fixtures.js';

let root: string;

/** Deterministic weight values; BN variances positive. */
function values(specs: readonly WeightSpec[]): Map<string, Float32Array> {
  let s = 12345;
  const next = (): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  const out = new Map<string, Float32Array>();
  for (const w of specs) {
    const n = w.shape.reduce((a, d) => a * d, 1);
    const base = w.name.replace(/^sequential\//, '');
    out.set(base, Float32Array.from({ length: n }, () => (base.endsWith('moving_variance') ? 0.5 + Math.abs(next()) : next())));
  }
  return out;
}

async function writeModel(dir: string, topology: Json, specs: readonly WeightSpec[], keras: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const vals = values(specs);
  const data = Buffer.concat(specs.map((w) => {
    const a = vals.get(w.name.replace(/^sequential\//, ''))!;
    return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  }));
  await writeFile(path.join(dir, 'group1-shard1of1.bin'), data);
  const json = {
    format: 'layers-model',
    generatedBy: `keras v${keras}`,
    convertedBy: 'TensorFlow.js Converter v4.22.0',
    modelTopology: topology,
    weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: specs.map((w) => ({ ...w, dtype: 'float32' })) }],
  };
  await writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
  return path.join(dir, 'model.json');
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

const files: Record<string, string> = {};

beforeAll(async () => {
  await useWasm();
  root = await mkdtemp(path.join(tmpdir(), 'cds-keras3-'));
  for (const kind of ['functional', 'sequential'] as const) {
    files[`k2-${kind}`] = await writeModel(path.join(root, `k2-${kind}`), keras2Topology(kind), manifestWeights(kind, 2), '2.15.0');
    files[`k3-${kind}`] = await writeModel(path.join(root, `k3-${kind}`), keras3Topology(kind), manifestWeights(kind, 3), '3.5.0');
  }
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** The functional CNN computed with tf ops from the weight values (BN in inference mode, eps 1e-3). */
function reference(x: tf.Tensor4D, kind: 'functional' | 'sequential'): tf.Tensor {
  const v = values(manifestWeights(kind, 2));
  const t = (name: string, shape: number[]) => tf.tensor(v.get(name)!, shape);
  const bnorm = (h: tf.Tensor4D, name: string) =>
    tf.batchNorm(h, t(`${name}/moving_mean`, [4]) as tf.Tensor1D, t(`${name}/moving_variance`, [4]) as tf.Tensor1D,
      t(`${name}/beta`, [4]) as tf.Tensor1D, t(`${name}/gamma`, [4]) as tf.Tensor1D, 1e-3);
  const conv = (h: tf.Tensor4D, name: string, k: number, s: number, inC: number) =>
    tf.add(tf.conv2d(h, t(`${name}/kernel`, [k, k, inC, 4]) as tf.Tensor4D, s, 'same'), t(`${name}/bias`, [4])) as tf.Tensor4D;
  return tf.tidy(() => {
    const a = tf.relu(bnorm(conv(x, 'conv2d', 3, 1, 3), 'batch_normalization')) as tf.Tensor4D;
    const main = conv(a, 'conv2d_1', 3, 2, 4);
    const sum = kind === 'functional' ? (tf.add(main, conv(a, 'conv2d_2', 1, 2, 4)) as tf.Tensor4D) : main;
    const pooled = tf.mean(bnorm(sum, 'batch_normalization_1'), [1, 2]);
    return tf.add(tf.matMul(pooled as tf.Tensor2D, t('dense/kernel', [4, 3]) as tf.Tensor2D), t('dense/bias', [3]));
  });
}

describe('Keras 3 model.json', () => {
  for (const kind of ['functional', 'sequential'] as const) {
    it(`${kind}: loads and computes exactly what its Keras 2 twin computes (and what tf ops compute)`, async () => {
      const k2 = await loadLayersModelFromDir(files[`k2-${kind}`]!);
      const k3 = await loadLayersModelFromDir(files[`k3-${kind}`]!);
      expect(k3.layers.map((l) => l.getClassName())).toEqual(k2.layers.map((l) => l.getClassName()));
      expect(k3.weights.length).toBe(k2.weights.length);
      const x = tf.randomNormal([5, 8, 8, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
      const y2 = k2.predict(x) as tf.Tensor;
      const y3 = k3.predict(x) as tf.Tensor;
      const ref = reference(x, kind);
      expect(y3.shape).toEqual([5, 3]);
      expect(maxAbsDiff(y3, y2)).toBe(0);
      expect(maxAbsDiff(y2, ref)).toBeLessThan(1e-5);
      // The BN statistics are the file's (not 0/1): without them the output differs.
      expect(tf.tidy(() => tf.max(tf.abs(ref)).dataSync()[0]!)).toBeGreaterThan(1e-3);
      tf.dispose([x, y2, y3, ref]);
      k2.dispose();
      k3.dispose();
    });
  }

  it('is refused by tfjs 4.22 as written (the translation is what makes it load)', async () => {
    for (const kind of ['functional', 'sequential'] as const) {
      const specs = manifestWeights(kind, 3).map((w) => ({ name: w.name, shape: [...w.shape], dtype: 'float32' as const }));
      const data = new Float32Array(specs.reduce((s, w) => s + w.shape.reduce((a, d) => a * d, 1), 0));
      await expect(tf.loadLayersModel(tf.io.fromMemory(keras3Topology(kind), specs, data.buffer))).rejects.toThrow();
      const fixed = keras3ModelJSONToKeras2({ format: 'layers-model', modelTopology: keras3Topology(kind), weightsManifest: [{ paths: [], weights: specs }] });
      const m = await tf.loadLayersModel(tf.io.fromMemory(fixed.modelTopology as object, fixed.weightsManifest[0]!.weights, data.buffer));
      m.dispose();
    }
  });

  it('loads wherever the toolkit loads a layers model: teacher, eval/inspect (loadModel)', async () => {
    const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
    const ref = reference(x, 'functional');
    const teacher = await loadTeacher(files['k3-functional']!, { expectedClasses: 3 });
    const out = teacher.forward(x);
    expect(maxAbsDiff(out.logits, ref)).toBeLessThan(1e-5);
    expect(teacher.featureNames.length).toBeGreaterThan(0);
    tf.dispose([...out.features, out.pooled, out.logits]);
    teacher.dispose();
    const loaded = await loadModel(path.dirname(files['k3-sequential']!));
    const y = loaded.model.predict(x) as tf.Tensor;
    const refSeq = reference(x, 'sequential');
    expect(maxAbsDiff(y, refSeq)).toBeLessThan(1e-5);
    tf.dispose([x, ref, y, refSeq]);
    loaded.dispose();
  });
});

describe('keras3TopologyToKeras2 (pure)', () => {
  it('leaves a Keras 2 topology alone (the same object)', () => {
    const k2 = keras2Topology('functional');
    expect(isKeras3Topology(k2)).toBe(false);
    expect(keras3TopologyToKeras2(k2)).toBe(k2);
    expect(isKeras3Topology(keras3Topology('sequential'))).toBe(true);
  });

  it('the Keras 3 functional topology becomes the Keras 2 one, key for key (but the names Keras 3 chose)', () => {
    const got = keras3TopologyToKeras2(keras3Topology('functional')) as { model_config: { config: Json } };
    const want = keras2Topology('functional') as { model_config: { config: Json } };
    const gotLayers = got.model_config.config['layers'] as Json[];
    const wantLayers = want.model_config.config['layers'] as Json[];
    expect(gotLayers.map((l) => l['inbound_nodes'])).toEqual(
      wantLayers.map((l) => (l['name'] === 'batch_normalization' || l['name'] === 'batch_normalization_1'
        ? (l['inbound_nodes'] as unknown[][][]).map((n) => n.map((e) => [e[0], e[1], e[2], { mask: null }]))
        : l['inbound_nodes'])),
    );
    expect(got.model_config.config['input_layers']).toEqual([['input_layer', 0, 0]]);
    expect(got.model_config.config['output_layers']).toEqual([['dense', 0, 0]]);
    for (const [g, w] of gotLayers.map((l, i) => [l, wantLayers[i]!] as const)) {
      // Same config but for ragged (Keras 3 InputLayers no longer write it).
      const { ragged: _r, ...wantConfig } = w['config'] as Json;
      expect(g['config']).toEqual(wantConfig);
    }
    expect(JSON.stringify(got)).not.toMatch(/"module"|registered_name|build_config|DTypePolicy|batch_shape|__keras_tensor__/);
  });

  it('mixed-precision policies keep float32 variables; calls the Keras 2 layout cannot express are refused', () => {
    const topo = keras3Topology('sequential') as { model_config: { config: { layers: Json[] } } };
    (topo.model_config.config.layers[1]!['config'] as Json)['dtype'] = { module: 'keras', class_name: 'DTypePolicy', config: { name: 'mixed_float16' }, registered_name: null };
    const out = keras3TopologyToKeras2(topo) as { model_config: { config: { layers: Json[] } } };
    expect((out.model_config.config.layers[1]!['config'] as Json)['dtype']).toBe('float32');

    const f = keras3Topology('functional') as { model_config: { config: { layers: Json[] } } };
    const dense = f.model_config.config.layers.find((l) => l['name'] === 'dense')!;
    const node = (dense['inbound_nodes'] as Json[])[0]!;
    node['kwargs'] = { mask: (node['args'] as Json[])[0] };
    expect(() => keras3TopologyToKeras2(f)).toThrow(Keras3LayoutError);
    expect(() => keras3TopologyToKeras2(f)).toThrow(/layer "dense" is called with a tensor as its keyword argument "mask"/);
  });

  it("drops the model-name prefix of Keras 3 weight names only where the rest names one of the model's layers", () => {
    const specs = [{ name: 'sequential/conv2d/kernel' }, { name: 'dense/bias' }, { name: 'sequential/unknown/kernel' }];
    const out = keras3ModelJSONToKeras2({ format: 'layers-model', modelTopology: keras3Topology('sequential'), weightsManifest: [{ paths: [], weights: specs }] });
    expect((out.weightsManifest[0]!.weights as { name: string }[]).map((w) => w.name)).toEqual(['conv2d/kernel', 'dense/bias', 'sequential/unknown/kernel']);
  });
});
