/**
 * ResNets.
 * - CIFAR ResNets of RepDistiller's resnet.py (resnet8 ... resnet110, resnet8x4, resnet32x4): 3x3 stem, three stages
 *   of BasicBlocks (depth = 6n + 2), 1x1 conv + BN shortcut where the shape changes, stride on conv1.
 * - RepDistiller's resnetv2.py with the CIFAR stem (3x3 stride 1, no max-pool): ResNet50 (Bottleneck [3, 4, 6, 3])
 *   and the CDS ResNet18-CIFAR (BasicBlock [2, 2, 2, 2], widths 64/128/256/512).
 * Features (forward(x, is_feat=True)): [stem after ReLU, each stage's output after its final ReLU].
 */
import type { ArchContext, NetBuilder, NetOutputs, ST } from './builder.js';

/** BasicBlock: conv3x3(stride)-BN-ReLU-conv3x3-BN, + shortcut, ReLU. */
function basicBlock(b: NetBuilder, x: ST, p: string, inPlanes: number, planes: number, stride: number): ST {
  let out = b.convBn(x, p, '1', { filters: planes, kernel: 3, stride }, true);
  out = b.convBn(out, p, '2', { filters: planes, kernel: 3 }, false);
  const shortcut =
    stride !== 1 || inPlanes !== planes ? b.convBn(x, `${p}shortcut_`, '', { filters: planes, kernel: 1, stride }, false) : x;
  return b.relu(b.add([out, shortcut], `${p}add`), `${p}relu`);
}

/** Bottleneck (expansion 4): conv1x1-BN-ReLU-conv3x3(stride)-BN-ReLU-conv1x1-BN, + shortcut, ReLU. */
function bottleneck(b: NetBuilder, x: ST, p: string, inPlanes: number, planes: number, stride: number): ST {
  let out = b.convBn(x, p, '1', { filters: planes, kernel: 1 }, true);
  out = b.convBn(out, p, '2', { filters: planes, kernel: 3, stride }, true);
  out = b.convBn(out, p, '3', { filters: planes * 4, kernel: 1 }, false);
  const shortcut =
    stride !== 1 || inPlanes !== planes * 4
      ? b.convBn(x, `${p}shortcut_`, '', { filters: planes * 4, kernel: 1, stride }, false)
      : x;
  return b.relu(b.add([out, shortcut], `${p}add`), `${p}relu`);
}

/** RepDistiller resnet.py: depth 6n+2, widths [stem, stage1, stage2, stage3]. */
export function cifarResNet(ctx: ArchContext, depth: number, widths: readonly [number, number, number, number]): NetOutputs {
  const { b } = ctx;
  if ((depth - 2) % 6 !== 0) throw new Error(`CIFAR ResNet depth must be 6n+2, got ${depth}`);
  const n = (depth - 2) / 6;
  let x = b.convBn(ctx.input, 'stem_', '', { filters: widths[0], kernel: 3 }, true);
  const features: ST[] = [x];
  let inPlanes = widths[0];
  for (let s = 1; s <= 3; s++) {
    const planes = widths[s]!;
    for (let i = 0; i < n; i++) {
      x = basicBlock(b, x, `stage${s}_block${i + 1}_`, inPlanes, planes, i === 0 && s > 1 ? 2 : 1);
      inPlanes = planes;
    }
    features.push(x);
  }
  const pooled = b.globalPool(x, 'head_pool');
  return { features, pooled, logits: b.dense(pooled, 'head_fc', ctx.numClasses) };
}

/** RepDistiller resnetv2.py (CIFAR stem): four stages 64/128/256/512 (x4 for Bottleneck), strides 1/2/2/2. */
export function resNetV2(ctx: ArchContext, block: 'basic' | 'bottleneck', numBlocks: readonly number[]): NetOutputs {
  const { b } = ctx;
  const expansion = block === 'basic' ? 1 : 4;
  const blockFn = block === 'basic' ? basicBlock : bottleneck;
  let x = b.convBn(ctx.input, 'stem_', '', { filters: 64, kernel: 3 }, true);
  const features: ST[] = [x];
  let inPlanes = 64;
  const widths = [64, 128, 256, 512];
  for (let s = 1; s <= 4; s++) {
    const planes = widths[s - 1]!;
    for (let i = 0; i < numBlocks[s - 1]!; i++) {
      x = blockFn(b, x, `stage${s}_block${i + 1}_`, inPlanes, planes, i === 0 && s > 1 ? 2 : 1);
      inPlanes = planes * expansion;
    }
    features.push(x);
  }
  const pooled = b.globalPool(x, 'head_pool');
  return { features, pooled, logits: b.dense(pooled, 'head_fc', ctx.numClasses) };
}
