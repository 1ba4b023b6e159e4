/**
 * ShuffleNets of RepDistiller: ShuffleNetv1.py (ShuffleV1: groups 3, widths 240/480/960, blocks 4/8/4) and
 * ShuffleNetv2.py (ShuffleV2: net_size 1, widths 116/232/464, head 1024, blocks 3/7/3). Both use a 1x1 stem conv
 * (24) - BN - ReLU at full resolution. Grouped 1x1 convs are GroupedConv2D (split, conv per group, concat); depthwise
 * convs are DepthwiseConv2D; channel shuffle is ChannelShuffle.
 * Features: [stem, each stage's output after its final ReLU (V1) / shuffle (V2)].
 */
import type { ArchContext, NetBuilder, NetOutputs, ST } from './builder.js';

/** ShuffleNetV1 Bottleneck; stride 2 concatenates an average-pooled shortcut (so outPlanes excludes its channels). */
function shuffleV1Block(b: NetBuilder, x: ST, p: string, inPlanes: number, outPlanes: number, stride: number, groups: number): ST {
  const mid = Math.floor(outPlanes / 4);
  const g = inPlanes === 24 ? 1 : groups;
  let out = b.convBn(x, p, '1', { filters: mid, kernel: 1, groups: g }, true);
  if (g > 1) out = b.shuffle(out, `${p}shuffle`, g);
  out = b.depthwise(out, `${p}conv2`, 3, stride);
  out = b.relu(b.bn(out, `${p}bn2`), `${p}relu2`);
  out = b.convBn(out, p, '3', { filters: outPlanes, kernel: 1, groups }, false);
  const merged =
    stride === 2
      ? b.concat([out, b.avgPoolPadded(x, `${p}shortcut_pool`, 3, 2)], `${p}concat`)
      : b.add([out, x], `${p}add`);
  return b.relu(merged, `${p}relu`);
}

export function shuffleNetV1(ctx: ArchContext, outPlanes: readonly number[], numBlocks: readonly number[], groups: number): NetOutputs {
  const { b } = ctx;
  let x = b.convBn(ctx.input, 'stem_', '', { filters: 24, kernel: 1 }, true);
  const features: ST[] = [x];
  let inPlanes = 24;
  outPlanes.forEach((planes, s) => {
    for (let i = 0; i < numBlocks[s]!; i++) {
      const catPlanes = i === 0 ? inPlanes : 0;
      x = shuffleV1Block(b, x, `stage${s + 1}_block${i + 1}_`, inPlanes, planes - catPlanes, i === 0 ? 2 : 1, groups);
      inPlanes = planes;
    }
    features.push(x);
  });
  const pooled = b.globalPool(x, 'head_pool');
  return { features, pooled, logits: b.dense(pooled, 'head_fc', ctx.numClasses) };
}

/** ShuffleNetV2 basic unit: split in half, transform the second half, concat, shuffle(2). */
function shuffleV2Block(b: NetBuilder, x: ST, p: string, channels: number): ST {
  const half = Math.floor(channels * 0.5);
  const x1 = b.channelSlice(x, `${p}split1`, 0, half);
  const x2 = b.channelSlice(x, `${p}split2`, half, channels - half);
  const c = channels - half;
  let out = b.convBn(x2, p, '1', { filters: c, kernel: 1 }, true);
  out = b.depthwise(out, `${p}conv2`, 3, 1);
  out = b.bn(out, `${p}bn2`);
  out = b.convBn(out, p, '3', { filters: c, kernel: 1 }, true);
  return b.shuffle(b.concat([x1, out], `${p}concat`), `${p}shuffle`, 2);
}

/** ShuffleNetV2 down-sampling unit: two stride-2 branches, concat, shuffle(2). */
function shuffleV2Down(b: NetBuilder, x: ST, p: string, outChannels: number): ST {
  const mid = Math.floor(outChannels / 2);
  // left: dw3x3/2 - BN - 1x1 - BN - ReLU
  let left = b.depthwise(x, `${p}conv1`, 3, 2);
  left = b.bn(left, `${p}bn1`);
  left = b.convBn(left, p, '2', { filters: mid, kernel: 1 }, true);
  // right: 1x1 - BN - ReLU - dw3x3/2 - BN - 1x1 - BN - ReLU
  let right = b.convBn(x, p, '3', { filters: mid, kernel: 1 }, true);
  right = b.depthwise(right, `${p}conv4`, 3, 2);
  right = b.bn(right, `${p}bn4`);
  right = b.convBn(right, p, '5', { filters: mid, kernel: 1 }, true);
  return b.shuffle(b.concat([left, right], `${p}concat`), `${p}shuffle`, 2);
}

export function shuffleNetV2(ctx: ArchContext, outChannels: readonly number[], numBlocks: readonly number[]): NetOutputs {
  const { b } = ctx;
  let x = b.convBn(ctx.input, 'stem_', '', { filters: 24, kernel: 1 }, true);
  const features: ST[] = [x];
  for (let s = 0; s < 3; s++) {
    const c = outChannels[s]!;
    x = shuffleV2Down(b, x, `stage${s + 1}_down_`, c);
    for (let i = 0; i < numBlocks[s]!; i++) x = shuffleV2Block(b, x, `stage${s + 1}_block${i + 1}_`, c);
    features.push(x);
  }
  x = b.convBn(x, 'head_', '', { filters: outChannels[3]!, kernel: 1 }, true);
  const pooled = b.globalPool(x, 'head_pool');
  return { features, pooled, logits: b.dense(pooled, 'head_fc', ctx.numClasses) };
}
