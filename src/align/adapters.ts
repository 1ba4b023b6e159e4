/**
 * Adaptation layers between student and teacher widths. They train with the student and are dropped at export.
 */
import { tf } from '../runtime/tf.js';
import type { Random } from '../runtime/random.js';
import { CdsDistillError } from '../errors.js';

/** A linear map [B, inDim] -> [B, outDim] (no bias: the targets are L2-normalised directions). */
export function linearAdapter(name: string, inDim: number, outDim: number, rng: Random): tf.LayersModel {
  return tf.sequential({
    name,
    layers: [
      tf.layers.dense({
        inputShape: [inDim],
        units: outDim,
        useBias: false,
        kernelInitializer: tf.initializers.glorotUniform({ seed: rng.opSeed() }),
        name: `${name}_dense`,
      }),
    ],
  });
}

/** A 1x1 convolution + BN mapping a feature map's channels (same resolution). */
export function channelAdapter(name: string, shape: readonly [number, number, number], outChannels: number, rng: Random): tf.LayersModel {
  return tf.sequential({
    name,
    layers: [
      tf.layers.conv2d({
        inputShape: [...shape],
        filters: outChannels,
        kernelSize: 1,
        useBias: false,
        kernelInitializer: tf.initializers.heNormal({ seed: rng.opSeed() }),
        name: `${name}_conv`,
      }),
      tf.layers.batchNormalization({ name: `${name}_bn` }),
    ],
  });
}

/**
 * FitNet's regressor (RepDistiller's ConvReg): maps a student feature map to the teacher's shape.
 * Same size: 3x3 conv; student twice as large: 3x3 stride-2 conv; half as large: 4x4 stride-2 transposed conv;
 * otherwise larger: a valid conv of size 1 + difference. Then BN and ReLU.
 */
export function convRegressor(
  name: string,
  studentShape: readonly [number, number, number],
  teacherShape: readonly [number, number, number],
  rng: Random,
): tf.LayersModel {
  const [sH, sW] = studentShape;
  const [tH, tW, tC] = teacherShape;
  const init = tf.initializers.heNormal({ seed: rng.opSeed() });
  const common = { filters: tC, kernelInitializer: init, name: `${name}_conv` };
  let conv: tf.layers.Layer;
  if (sH === 2 * tH && sW === 2 * tW) {
    conv = tf.layers.conv2d({ ...common, inputShape: [...studentShape], kernelSize: 3, strides: 2, padding: 'same' });
  } else if (sH * 2 === tH && sW * 2 === tW) {
    conv = tf.layers.conv2dTranspose({ ...common, inputShape: [...studentShape], kernelSize: 4, strides: 2, padding: 'same' });
  } else if (sH >= tH && sW >= tW) {
    conv = tf.layers.conv2d({
      ...common,
      inputShape: [...studentShape],
      kernelSize: [1 + sH - tH, 1 + sW - tW],
      padding: 'valid',
    });
  } else {
    throw new CdsDistillError(`FitNet regressor: cannot map a student feature ${studentShape.join('x')} to the teacher's ${teacherShape.join('x')}: choose another method or pair of models`);
  }
  return tf.sequential({
    name,
    layers: [conv, tf.layers.batchNormalization({ name: `${name}_bn` }), tf.layers.reLU({ name: `${name}_relu` })],
  });
}
