#!/usr/bin/python3
"""Independent PyTorch cross-check of cds-distill's `ce` and `kd` (run by hand, never by CI).

Loads a cds-distill teacher bundle (model.json + weights.bin, a CIFAR ResNet from the zoo) into PyTorch, checks its
test top-1, then trains the same student (RepDistiller's CIFAR ResNet) with `ce` and with `kd` on the same images
and recipe as cds-distill (stratified `--limit` of the training split in file order, normalisation from the whole
training split, random crop with `round(min(H, W) / 8)` zero padding + horizontal flip, SGD momentum 0.9 with weight
decay 5e-4 on every parameter, cosine learning rate updated every step, each epoch's last partial batch dropped when
the set holds more than one batch (the toolkit's rule; `--keep-last` keeps it, PyTorch DataLoader's default), KD as
0.1 CE + 0.9 T^2 KL with T = 4) and prints test top-1 as mean +- sample std over seeds. With `--toolkit
results.json` (a `cds-distill compare` report of the same setting) it prints the toolkit's figures beside them.

It shares no code with the toolkit: only the file formats (IDX, the tfjs layers model.json) are read. Needs Debian's
`python3-torch` (PyTorch 1.13 CPU):

  /usr/bin/python3 scripts/torch-crosscheck.py --teacher teachers/resnet20-fashion-cds \
      --data data/fashion-mnist-slice --student resnet8 --limit 1000 --epochs 10 --seeds 3 \
      --toolkit cmp/demo/results.json
"""
import argparse
import gzip
import json
import math
import os
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------- data
def read_idx(path):
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        raw = f.read()
    zero, dtype, ndim = struct.unpack('>HBB', raw[:4])
    assert zero == 0 and dtype == 0x08, f'{path}: not an unsigned-byte IDX file'
    dims = struct.unpack('>' + 'I' * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(directory, stem):
    for name in (stem + '.gz', stem):
        p = os.path.join(directory, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f'{directory}: no {stem}[.gz]')


def load_split(directory, split):
    prefix = 'train' if split == 'train' else 't10k'
    images = read_idx(find(directory, f'{prefix}-images-idx3-ubyte'))
    labels = read_idx(find(directory, f'{prefix}-labels-idx1-ubyte')).astype(np.int64)
    return images[:, None, :, :], labels  # N x 1 x H x W uint8


def stratified(labels, classes, limit):
    """Equal shares per class, each class's first images in file order (the toolkit's documented rule)."""
    counts = np.bincount(labels, minlength=classes)
    quota = np.zeros(classes, dtype=np.int64)
    remaining = min(limit, len(labels))
    open_ = [k for k in range(classes) if counts[k] > 0]
    while remaining > 0 and open_:
        share = remaining // len(open_)
        if share == 0:
            for k in open_[:remaining]:
                quota[k] += 1
            break
        nxt = []
        for k in open_:
            give = min(share, counts[k] - quota[k])
            quota[k] += give
            remaining -= give
            if quota[k] < counts[k]:
                nxt.append(k)
        open_ = nxt
    taken = np.zeros(classes, dtype=np.int64)
    keep = []
    for i, k in enumerate(labels):
        if taken[k] < quota[k]:
            taken[k] += 1
            keep.append(i)
    return np.array(keep, dtype=np.int64)


def augment(x, gen):
    """Random crop with zero padding round(min(H, W) / 8) and a horizontal flip with p 0.5, on raw pixels."""
    n, _, h, w = x.shape
    pad = round(min(h, w) / 8)
    padded = F.pad(x, (pad, pad, pad, pad), value=0.0)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    flip = torch.rand(n, generator=gen) < 0.5
    out = torch.empty_like(x)
    for i in range(n):
        crop = padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
        out[i] = torch.flip(crop, dims=[2]) if flip[i] else crop
    return out


# ---------------------------------------------------------------- models (RepDistiller resnet.py, CIFAR)
class BasicBlock(nn.Module):
    def __init__(self, inp, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = None
        if stride != 1 or inp != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(inp, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (self.shortcut(x) if self.shortcut is not None else x))


WIDTHS = {'resnet8': (8, (16, 16, 32, 64)), 'resnet14': (14, (16, 16, 32, 64)), 'resnet20': (20, (16, 16, 32, 64)),
          'resnet32': (32, (16, 16, 32, 64)), 'resnet8x4': (8, (32, 64, 128, 256)), 'resnet32x4': (32, (32, 64, 128, 256))}


class CifarResNet(nn.Module):
    def __init__(self, name, in_ch, classes):
        super().__init__()
        depth, widths = WIDTHS[name]
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_ch, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        stages = []
        inp = widths[0]
        for s in range(1, 4):
            blocks = []
            for i in range(n):
                blocks.append(BasicBlock(inp, widths[s], 2 if i == 0 and s > 1 else 1))
                inp = widths[s]
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.ModuleList(stages)
        self.fc = nn.Linear(widths[3], classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.zeros_(self.fc.bias)  # the toolkit's dense bias starts at zero

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        for stage in self.stages:
            x = stage(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def load_bundle(directory):
    """A cds-distill bundle (bundle.json, model.json, weights) as a PyTorch CifarResNet in eval mode."""
    bundle = json.load(open(os.path.join(directory, 'bundle.json')))
    model_json = json.load(open(os.path.join(directory, 'model.json')))
    h, w, c = bundle['inputShape']
    net = CifarResNet(bundle['model'], c, bundle['numClasses'])
    tensors = {}
    for group in model_json['weightsManifest']:
        raw = b''.join(open(os.path.join(directory, p), 'rb').read() for p in group['paths'])
        offset = 0
        for spec in group['weights']:
            assert spec.get('dtype', 'float32') == 'float32', spec
            count = int(np.prod(spec['shape'])) if spec['shape'] else 1
            tensors[spec['name']] = np.frombuffer(raw, dtype='<f4', count=count, offset=offset).reshape(spec['shape'])
            offset += 4 * count

    def conv(module, name):
        module.weight.data = torch.from_numpy(tensors[f'{name}/kernel'].transpose(3, 2, 0, 1).copy())

    def bn(module, name):
        for attr, key in (('weight', 'gamma'), ('bias', 'beta'), ('running_mean', 'moving_mean'), ('running_var', 'moving_variance')):
            getattr(module, attr).data = torch.from_numpy(tensors[f'{name}/{key}'].copy())

    conv(net.conv1, 'stem_conv')
    bn(net.bn1, 'stem_bn')
    for s, stage in enumerate(net.stages, start=1):
        for b, block in enumerate(stage, start=1):
            p = f'stage{s}_block{b}_'
            conv(block.conv1, p + 'conv1'); bn(block.bn1, p + 'bn1')
            conv(block.conv2, p + 'conv2'); bn(block.bn2, p + 'bn2')
            if block.shortcut is not None:
                conv(block.shortcut[0], p + 'shortcut_conv'); bn(block.shortcut[1], p + 'shortcut_bn')
    net.fc.weight.data = torch.from_numpy(tensors['head_fc/kernel'].T.copy())
    net.fc.bias.data = torch.from_numpy(tensors['head_fc/bias'].copy())
    return net.eval(), bundle


# ---------------------------------------------------------------- training
def top1(net, x, y, batch=256):
    net.eval()
    right = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            right += (net(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return right / len(x)


def kd_loss(s, t, T):
    return F.kl_div(F.log_softmax(s / T, 1), F.log_softmax(t / T, 1), reduction='sum', log_target=True) * T * T / s.shape[0]


def train(method, args, seed, data, teacher):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    xr, y, mean, std, xt, yt = data
    net = CifarResNet(args.student, xr.shape[1], int(y.max()) + 1)
    opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    # The toolkit drops each epoch's last partial batch (its images differ every epoch: the order is reshuffled).
    keep_last = args.keep_last or len(xr) <= args.batch_size
    steps = math.ceil(len(xr) / args.batch_size) if keep_last else len(xr) // args.batch_size
    for epoch in range(args.epochs):
        net.train()
        order = torch.randperm(len(xr), generator=gen)
        for step in range(steps):
            t = epoch + (step + 1) / steps
            for g in opt.param_groups:
                g['lr'] = args.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, t / args.epochs)))
            idx = order[step * args.batch_size:(step + 1) * args.batch_size]
            x = (augment(xr[idx], gen) / 255.0 - mean) / std
            logits = net(x)
            ce = F.cross_entropy(logits, y[idx])
            if method == 'ce':
                loss = ce
            else:
                with torch.no_grad():
                    tl = teacher(x)
                loss = 0.1 * ce + 0.9 * kd_loss(logits, tl, 4.0)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return top1(net, xt, yt)


def mean_std(values):
    if not values:
        return '-'
    m = 100 * statistics.mean(values)
    s = 100 * statistics.stdev(values) if len(values) > 1 else 0.0
    return f'{m:.1f} ± {s:.1f} (n={len(values)})'


def toolkit_rows(path):
    """method -> list of last-epoch test top-1 per seed, from a `cds-distill compare` results.json."""
    report = json.load(open(path))
    out = {}
    for run in report.get('runs', []):
        out.setdefault(run['method'], []).append(run['last']['top1'])
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--teacher', required=True, help='cds-distill bundle directory (bundle.json, model.json, weights)')
    p.add_argument('--data', default='data/fashion-mnist-slice', help='directory with the IDX files')
    p.add_argument('--student', default='resnet8')
    p.add_argument('--limit', type=int, default=1000, help='training images, stratified')
    p.add_argument('--epochs', type=int, default=10)
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--lr', type=float, default=0.05)
    p.add_argument('--seeds', type=int, default=3)
    p.add_argument('--methods', default='ce,kd')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--keep-last', action='store_true',
                   help="keep each epoch's last partial batch (PyTorch DataLoader's default) instead of the toolkit's drop")
    p.add_argument('--toolkit', help="a `cds-distill compare` results.json of the same setting, printed beside")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    train_x, train_y = load_split(args.data, 'train')
    test_x, test_y = load_split(args.data, 'test')
    mean = float((train_x / 255.0).mean())
    std = float((train_x / 255.0).std())
    keep = stratified(train_y, int(train_y.max()) + 1, args.limit)
    xr = torch.from_numpy(train_x[keep].astype(np.float32))
    y = torch.from_numpy(train_y[keep])
    xt = (torch.from_numpy(test_x.astype(np.float32)) / 255.0 - mean) / std
    yt = torch.from_numpy(test_y)
    teacher, bundle = load_bundle(args.teacher)
    t_acc = top1(teacher, xt, yt)
    print(f'teacher {bundle["model"]} ({args.teacher}): {100 * t_acc:.2f}% on {len(yt)} test images; '
          f'student {args.student} on {len(y)} images, {args.epochs} epochs, batch {args.batch_size}, lr {args.lr} cosine, '
          f'last partial batch {"kept" if args.keep_last else "dropped"}; '
          f'normalisation mean {mean:.4f} std {std:.4f}', file=sys.stderr)
    data = (xr, y, mean, std, xt, yt)
    results = {}
    for method in args.methods.split(','):
        for seed in range(args.seeds):
            t0 = time.time()
            acc = train(method, args, seed, data, teacher)
            results.setdefault(method, []).append(acc)
            print(f'  {method} seed {seed}: {100 * acc:.2f}% ({time.time() - t0:.0f} s)', file=sys.stderr)
    toolkit = toolkit_rows(args.toolkit) if args.toolkit else {}
    print(f'| method | PyTorch {torch.__version__} top-1 % | cds-distill top-1 % |')
    print('|---|---|---|')
    for method, accs in results.items():
        print(f'| {method} | {mean_std(accs)} | {mean_std(toolkit.get(method, []))} |')


if __name__ == '__main__':
    main()
