/**
 * VGG with BatchNorm of RepDistiller's vgg.py (vgg8 = cfg S, vgg11 = cfg A, vgg13 = cfg B; the benchmark names map
 * to the *_bn variants): five conv blocks (conv3x3 with bias - BN - ReLU), 2x2 max-pools between blocks 0-1, 1-2,
 * 2-3 (and 3-4 only for 64-pixel inputs, as there), global average pooling, one linear classifier.
 * Features: [block0 .. block4 outputs after ReLU] (block0 is the "stem" feature).
 */
import type { ArchContext, NetOutputs, ST } from './builder.js';

export const VGG_CFG = {
  S: [[64], [128], [256], [512], [512]],
  A: [[64], [128], [256, 256], [512, 512], [512, 512]],
  B: [[64, 64], [128, 128], [256, 256], [512, 512], [512, 512]],
} as const satisfies Record<string, readonly (readonly number[])[]>;

export function vgg(ctx: ArchContext, cfg: readonly (readonly number[])[]): NetOutputs {
  const { b } = ctx;
  let x = ctx.input;
  const features: ST[] = [];
  cfg.forEach((widths, blockIdx) => {
    const p = blockIdx === 0 ? 'stem_' : `stage${blockIdx}_`;
    if (blockIdx > 0 && (blockIdx < 4 || ctx.inputShape[0] === 64)) x = b.maxPool(x, `${p}pool`, 2);
    widths.forEach((w, i) => {
      x = b.convBn(x, p, String(i + 1), { filters: w, kernel: 3, bias: true }, true);
    });
    features.push(x);
  });
  const pooled = b.globalPool(x, 'head_pool');
  return { features, pooled, logits: b.dense(pooled, 'head_fc', ctx.numClasses) };
}
