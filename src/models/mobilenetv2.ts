/**
 * MobileNetV2 as RepDistiller's mobilenetv2.py builds it under the benchmark name "MobileNetV2" (`mobile_half`:
 * expansion T = 6, width 0.5): stem conv3x3 stride 2 - BN - ReLU, inverted residual blocks (pw 1x1 expand - BN -
 * ReLU - dw 3x3 - BN - ReLU - pw 1x1 linear - BN, residual when stride 1 and widths match; plain ReLU, not ReLU6;
 * the expand conv exists even for t = 1), then conv1x1 to 1280 - BN - ReLU, average pooling, linear classifier.
 * Features: [stem, after setting groups 0-1, after 2, after 3-4, after 5-6] (RepDistiller's f0..f4), so the stages
 * are stage1 = groups 0+1, stage2 = group 2, stage3 = groups 3+4, stage4 = groups 5+6.
 */
import type { ArchContext, NetBuilder, NetOutputs, ST } from './builder.js';

function invertedResidual(b: NetBuilder, x: ST, p: string, inp: number, oup: number, stride: number, t: number): ST {
  const hidden = inp * t;
  let out = b.convBn(x, p, '1', { filters: hidden, kernel: 1 }, true);
  out = b.depthwise(out, `${p}conv2`, 3, stride);
  out = b.relu(b.bn(out, `${p}bn2`), `${p}relu2`);
  out = b.convBn(out, p, '3', { filters: oup, kernel: 1 }, false);
  return stride === 1 && inp === oup ? b.add([x, out], `${p}add`) : out;
}

export function mobileNetV2(ctx: ArchContext, T: number, widthMult: number): NetOutputs {
  const { b } = ctx;
  // t, c, n, s; stage = which feature tap the group feeds.
  const settings: readonly [number, number, number, number, number][] = [
    [1, 16, 1, 1, 1],
    [T, 24, 2, 1, 1],
    [T, 32, 3, 2, 2],
    [T, 64, 4, 2, 3],
    [T, 96, 3, 1, 3],
    [T, 160, 3, 2, 4],
    [T, 320, 1, 1, 4],
  ];
  let inputChannel = Math.floor(32 * widthMult);
  let x = b.convBn(ctx.input, 'stem_', '', { filters: inputChannel, kernel: 3, stride: 2 }, true);
  const features: ST[] = [x];
  const blockCount = new Map<number, number>();
  settings.forEach(([t, c, n, s, stage], g) => {
    const outputChannel = Math.floor(c * widthMult);
    for (let i = 0; i < n; i++) {
      const k = (blockCount.get(stage) ?? 0) + 1;
      blockCount.set(stage, k);
      x = invertedResidual(b, x, `stage${stage}_block${k}_`, inputChannel, outputChannel, i === 0 ? s : 1, t);
      inputChannel = outputChannel;
    }
    const next = settings[g + 1];
    if (next == null || next[4] !== stage) features.push(x);
  });
  const lastChannel = widthMult > 1 ? Math.floor(1280 * widthMult) : 1280;
  x = b.convBn(x, 'head_', '', { filters: lastChannel, kernel: 1 }, true);
  const pooled = b.globalPool(x, 'head_pool');
  return { features, pooled, logits: b.dense(pooled, 'head_fc', ctx.numClasses) };
}
