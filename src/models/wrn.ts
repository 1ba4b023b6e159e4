/**
 * Wide ResNets of RepDistiller's wrn.py (wrn_16_1, wrn_16_2, wrn_40_1, wrn_40_2): depth 6n+4, pre-activation
 * BasicBlocks (BN-ReLU-conv3x3-BN-ReLU-conv3x3), widths [16, 16w, 32w, 64w], bias-free 1x1 conv shortcut (no BN)
 * on the activated input where the width changes, final BN-ReLU before pooling, no dropout (dropRate 0).
 * Features: [stem conv output (no BN), each stage's raw residual sum]; pooled after the final BN-ReLU.
 */
import type { ArchContext, NetBuilder, NetOutputs, ST } from './builder.js';

function wideBlock(b: NetBuilder, x: ST, p: string, inPlanes: number, outPlanes: number, stride: number): ST {
  const equalInOut = inPlanes === outPlanes;
  const act = b.relu(b.bn(x, `${p}bn1`), `${p}relu1`);
  let out = b.conv(act, `${p}conv1`, { filters: outPlanes, kernel: 3, stride });
  out = b.relu(b.bn(out, `${p}bn2`), `${p}relu2`);
  out = b.conv(out, `${p}conv2`, { filters: outPlanes, kernel: 3 });
  // RepDistiller: identity shortcut on the raw input when widths match, else a 1x1 conv on the *activated* input.
  const shortcut = equalInOut ? x : b.conv(act, `${p}shortcut_conv`, { filters: outPlanes, kernel: 1, stride });
  return b.add([shortcut, out], `${p}add`);
}

export function wideResNet(ctx: ArchContext, depth: number, widen: number): NetOutputs {
  const { b } = ctx;
  if ((depth - 4) % 6 !== 0) throw new Error(`WRN depth must be 6n+4, got ${depth}`);
  const n = (depth - 4) / 6;
  const widths = [16, 16 * widen, 32 * widen, 64 * widen];
  let x = b.conv(ctx.input, 'stem_conv', { filters: widths[0]!, kernel: 3 });
  const features: ST[] = [x];
  let inPlanes = widths[0]!;
  for (let s = 1; s <= 3; s++) {
    for (let i = 0; i < n; i++) {
      x = wideBlock(b, x, `stage${s}_block${i + 1}_`, inPlanes, widths[s]!, i === 0 && s > 1 ? 2 : 1);
      inPlanes = widths[s]!;
    }
    features.push(x);
  }
  x = b.relu(b.bn(x, 'head_bn'), 'head_relu');
  const pooled = b.globalPool(x, 'head_pool');
  return { features, pooled, logits: b.dense(pooled, 'head_fc', ctx.numClasses) };
}
