"""PyTorch CPU reference for `npm run bench` and `cds-distill bench --compare`: the same training step as the toolkit's.

Same model shapes as the zoo (RepDistiller CIFAR ResNets; the CDS ResNet18-CIFAR with the CDS SepConv heads), the same
step: two augmented views (pad-4 random crop + flip) for CDS, forward on all rows, CE on the first view, 0.1 x SupCon on
every stage's L2-normalised projection over both views, backward, SGD momentum 0.9 / weight decay 5e-4. Synthetic
inputs. Prints one JSON line: {"backend": "pytorch", "msPerStep": ..., ...}. Run with Debian's python3-torch:
  /usr/bin/python3 bench/torch_step.py --model resnet18 --method cds --batch 32 --input 32x32x3 --classes 100 --threads 2
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_bn(cin, cout, k, stride):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, bias=False), nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = conv_bn(cin, cout, 3, stride)
        self.c2 = conv_bn(cout, cout, 3, 1)
        self.short = conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else None

    def forward(self, x):
        out = self.c2(F.relu(self.c1(x)))
        return F.relu(out + (self.short(x) if self.short is not None else x))


class ResNet(nn.Module):
    """stem 3x3 + stages of BasicBlocks; returns (stage features, logits)."""

    def __init__(self, cin, stem, widths, blocks, strides, classes):
        super().__init__()
        self.stem = conv_bn(cin, stem, 3, 1)
        stages, c = [], stem
        for w, n, s in zip(widths, blocks, strides):
            layers = []
            for i in range(n):
                layers.append(BasicBlock(c, w, s if i == 0 else 1))
                c = w
            stages.append(nn.Sequential(*layers))
        self.stages = nn.ModuleList(stages)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = F.relu(self.stem(x))
        feats = []
        for s in self.stages:
            x = s(x)
            feats.append(x)
        return feats, self.fc(x.mean((2, 3)))


def sep_block(cin, cout, stride):
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.Conv2d(cin, cin, 1, bias=False), nn.BatchNorm2d(cin), nn.ReLU(),
        nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False), nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
    )


class CdsHeads(nn.Module):
    """One SepConv block per downsampling from each stage to the last stage's resolution (to the next stage's width)."""

    def __init__(self, widths, sizes):
        super().__init__()
        heads = []
        for i, (w, s) in enumerate(zip(widths, sizes)):
            blocks, j = [], i
            while s > sizes[-1]:
                blocks.append(sep_block(widths[j], widths[j + 1], 2))
                j, s = j + 1, (s + 1) // 2
            heads.append(nn.Sequential(*blocks))
        self.heads = nn.ModuleList(heads)

    def forward(self, feats):
        return [F.normalize(h(f).mean((2, 3)), dim=1) for h, f in zip(self.heads, feats)]


def supcon(z, labels, n, temperature=0.07):
    m = z.shape[0]
    ids = torch.arange(m) % n
    y = labels.repeat(2)
    pos = ((ids[:, None] == ids[None, :]) | (y[:, None] == y[None, :])).float()
    eye = torch.eye(m)
    pos = pos * (1 - eye)
    logits = z @ z.t() / temperature
    lse = torch.logsumexp(logits - eye * 1e30, dim=1, keepdim=True)
    mean_pos = (pos * (logits - lse)).sum(1) / pos.sum(1).clamp(min=1)
    return -mean_pos.mean()


def augment(x, gen):
    """pad-4 random crop + horizontal flip, per image."""
    n, c, h, w = x.shape
    p = F.pad(x, (4, 4, 4, 4))
    out = torch.empty_like(x)
    offs = torch.randint(0, 9, (n, 2), generator=gen)
    flips = torch.rand(n, generator=gen) < 0.5
    for i in range(n):
        a, b = int(offs[i, 0]), int(offs[i, 1])
        img = p[i, :, a:a + h, b:b + w]
        out[i] = img.flip(2) if flips[i] else img
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', default='resnet18', choices=['resnet18', 'resnet20'])
    ap.add_argument('--method', default='cds', choices=['cds', 'ce'])
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--input', default='32x32x3')
    ap.add_argument('--classes', type=int, default=100)
    ap.add_argument('--steps', type=int, default=3)
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--no-augment', action='store_true', help='feed the images as they are (the npm run bench CE step)')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    h, w, c = (int(v) for v in a.input.split('x'))
    if a.model == 'resnet18':
        widths, net = [64, 128, 256, 512], ResNet(c, 64, [64, 128, 256, 512], [2, 2, 2, 2], [1, 2, 2, 2], a.classes)
    else:
        widths, net = [16, 32, 64], ResNet(c, 16, [16, 32, 64], [3, 3, 3], [1, 2, 2], a.classes)
    sizes, s = [], h
    for st in ([1, 2, 2, 2] if a.model == 'resnet18' else [1, 2, 2]):
        s = (s + 1) // 2 if st == 2 else s
        sizes.append(s)
    heads = CdsHeads(widths, sizes) if a.method == 'cds' else None
    params = list(net.parameters()) + (list(heads.parameters()) if heads else [])
    opt = torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=5e-4)
    gen = torch.Generator().manual_seed(1)
    images = torch.rand(a.batch, c, h, w, generator=gen)
    labels = torch.randint(0, a.classes, (a.batch,), generator=gen)
    net.train()

    def step():
        t0 = time.perf_counter()
        aug = (lambda t: t) if a.no_augment else (lambda t: augment(t, gen))
        x = torch.cat([aug(images), aug(images)]) if a.method == 'cds' else aug(images)
        feats, logits = net(x)
        loss = F.cross_entropy(logits[: a.batch], labels)
        if heads is not None:
            loss = loss + 0.1 * sum(supcon(z, labels, a.batch) for z in heads(feats))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        float(loss)
        return (time.perf_counter() - t0) * 1000

    for _ in range(a.warmup):
        step()
    times = [step() for _ in range(a.steps)]
    ms = statistics.median(times)
    print(json.dumps({
        'backend': 'pytorch', 'torch': torch.__version__, 'threads': torch.get_num_threads(), 'model': a.model,
        'method': a.method, 'batch': a.batch, 'rows': a.batch * (2 if a.method == 'cds' else 1), 'steps': a.steps,
        'msPerStep': ms, 'imgPerS': a.batch * 1000 / ms, 'stepMs': times,
    }))


if __name__ == '__main__':
    main()
