#!/usr/bin/python3
"""PyTorch-Python reference of faceid's training and embedding, for side-by-side speed figures.

It implements the SAME network as src/model/model.cpp (both variants, layer for layer, the same
initialisation), the same contrastive loss and mining as src/model/loss.cpp, the same pair
sampling (persons drawn uniformly, a fixed number of genuine pairs a batch, no self-pairs) and the
same augmentation steps as src/data/augment.cpp (colour jitter, flip + zoom + shift with bilinear
colour and nearest depth, depth noise, depth holes), written the way a competent PyTorch user
would: a map-style Dataset + DataLoader with persistent worker processes, model.train(), Adam,
zero_grad / backward / clip / step, and eval() + no_grad (or inference_mode) for embedding.

Input: the crops the C++ code trains on, dumped by `build/bin/dump_crops --config C --out DIR`
(DIR/crops.npy, N x 4 x S x S float32, and DIR/labels.csv), or --random P,F for P persons x F
frames of random crops (then both programs see random data of the same shapes).

Modes (every figure is printed as a machine-readable `RESULT name=value` line):
  train  end-to-end pairs/s (loader + step) per epoch of --steps steps, median over the epochs
         after the first (warm-up), the fraction of epoch time spent waiting for a batch, and the
         median of per-step pairs/s;
  step   the train step alone on random tensors (no loader): median pairs/s;
  embed  single-frame embedding latency p50 / p99 in ms (batch 1, eval, no_grad and
         inference_mode).

Use Debian's interpreter (/usr/bin/python3): python3-torch is the same libtorch 1.13 as the C++
build. Example:
  /usr/bin/python3 scripts/reference/pytorch_reference.py --mode train --crops /tmp/crops \
      --variant squeezenet1_1 --batch-pairs 32 --steps 10 --epochs 3 --threads 2
"""

import argparse
import csv
import math
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

COLOR_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
COLOR_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
DISTANCE_EPS = 1e-12
IN_CHANNELS = 4
TRUNK_CHANNELS = 512


# ---------------------------------------------------------------------------------------------
# The network (src/model/model.cpp)
# ---------------------------------------------------------------------------------------------
class Fire(nn.Module):
    """1x1 squeeze, then concat(1x1 expand, 3x3 expand), each conv (+ BN) + ReLU."""

    def __init__(self, cin, squeeze, expand, batch_norm):
        super().__init__()

        def conv(i, o, k):
            return nn.Conv2d(i, o, k, padding=k // 2, bias=not batch_norm)

        self.squeeze = conv(cin, squeeze, 1)
        self.expand1x1 = conv(squeeze, expand, 1)
        self.expand3x3 = conv(squeeze, expand, 3)
        if batch_norm:
            self.squeeze_bn = nn.BatchNorm2d(squeeze)
            self.expand1x1_bn = nn.BatchNorm2d(expand)
            self.expand3x3_bn = nn.BatchNorm2d(expand)
        else:
            self.squeeze_bn = self.expand1x1_bn = self.expand3x3_bn = None

    @staticmethod
    def _conv_bn_relu(conv, bn, x):
        y = conv(x)
        if bn is not None:
            y = bn(y)
        return F.relu(y)

    def forward(self, x):
        s = self._conv_bn_relu(self.squeeze, self.squeeze_bn, x)
        return torch.cat([self._conv_bn_relu(self.expand1x1, self.expand1x1_bn, s),
                          self._conv_bn_relu(self.expand3x3, self.expand3x3_bn, s)], 1)


def squeezenet_trunk():
    def pool():
        return nn.MaxPool2d(3, stride=2, ceil_mode=True)
    return nn.Sequential(
        nn.Conv2d(IN_CHANNELS, 64, 3, stride=2, bias=False), nn.BatchNorm2d(64), nn.ReLU(), pool(),
        Fire(64, 16, 64, True), Fire(128, 16, 64, True), pool(),
        Fire(128, 32, 128, True), Fire(256, 32, 128, True), pool(),
        Fire(256, 48, 192, True), Fire(384, 48, 192, True),
        Fire(384, 64, 256, True), Fire(512, 64, 256, True))


def beta_trunk(dropout):
    def pool():
        return nn.MaxPool2d(3, stride=2)
    return nn.Sequential(
        nn.Conv2d(IN_CHANNELS, 64, 5, stride=2), nn.BatchNorm2d(64), nn.ReLU(), pool(),
        Fire(64, 16, 16, False), Fire(32, 16, 16, False), pool(),
        Fire(32, 32, 32, False), Fire(64, 32, 32, False), pool(),
        Fire(64, 48, 48, False), Fire(96, 48, 48, False),
        Fire(96, 64, 64, False), Fire(128, 64, 64, False),
        nn.Dropout(dropout), nn.Conv2d(128, TRUNK_CHANNELS, 1), nn.ReLU())


class EmbeddingNet(nn.Module):
    def __init__(self, variant, input_size, dim=128, dropout=0.2):
        super().__init__()
        self.input_size = input_size
        if variant == "squeezenet1_1":
            self.features = squeezenet_trunk()
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
                                      nn.Linear(TRUNK_CHANNELS, dim))
        elif variant == "faceid_beta":
            self.features = beta_trunk(dropout)
            with torch.no_grad():
                flat = self.features(torch.zeros(1, IN_CHANNELS, input_size, input_size)).numel()
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(flat, 512), nn.ReLU(),
                                      nn.Dropout(dropout), nn.Linear(512, dim))
        else:
            raise ValueError(f"--variant: expected squeezenet1_1|faceid_beta, got {variant!r}")
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_uniform_(m.weight, a=0.0, mode="fan_in", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return F.normalize(self.head(self.features(x)), p=2.0, dim=1, eps=1e-12)


# ---------------------------------------------------------------------------------------------
# Contrastive loss with mining (src/model/loss.cpp)
# ---------------------------------------------------------------------------------------------
def safe_sqrt(squared):
    return torch.sqrt(squared.clamp_min(0.0) + DISTANCE_EPS)


def pair_distance(a, b):
    return safe_sqrt((a - b).square().sum(-1))


def distance_matrix(x, y):
    xx = x.square().sum(1, keepdim=True)
    yy = y.square().sum(1, keepdim=True).t()
    return safe_sqrt(xx + yy - 2.0 * x @ y.t())


def contrastive_loss(emb_a, emb_b, same, ids_a, ids_b, margin=1.0, mining="none"):
    y = same.bool()
    dists, positive = [], []
    if mining in ("none", "batch_hard"):
        dists.append(pair_distance(emb_a, emb_b))
        positive.append(y)
    if mining in ("batch_all", "batch_hard"):
        n = emb_a.size(0)
        emb = torch.cat([emb_a, emb_b])
        ids = torch.cat([ids_a, ids_b])
        dist = distance_matrix(emb, emb)
        same_person = ids.unsqueeze(1).eq(ids.unsqueeze(0))
        not_self = ~torch.eye(2 * n, dtype=torch.bool)
        if mining == "batch_all":
            upper = torch.ones_like(same_person).triu(1)
            dists.append(dist.masked_select(upper))
            positive.append(same_person.masked_select(upper))
        else:
            pos_mask = same_person & not_self
            neg_mask = ~same_person
            pos_d = dist.masked_select(pos_mask)
            dists.append(pos_d)
            positive.append(torch.ones(pos_d.size(0), dtype=torch.bool))
            has_neg = neg_mask.any(1)
            hardest = dist.masked_fill(~neg_mask, math.inf).min(1).values
            neg_d = hardest.masked_select(has_neg)
            dists.append(neg_d)
            positive.append(torch.zeros(neg_d.size(0), dtype=torch.bool))
    d = torch.cat(dists)
    t = torch.cat(positive).to(d.dtype)
    return (t * d.square() + (1.0 - t) * F.relu(margin - d).square()).mean()


# ---------------------------------------------------------------------------------------------
# Data: crops, pair sampling, augmentation (src/data/{pair_sampler,augment}.cpp)
# ---------------------------------------------------------------------------------------------
def load_crops(directory):
    crops = np.load(os.path.join(directory, "crops.npy"), mmap_mode="r")
    with open(os.path.join(directory, "labels.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    if len(rows) != crops.shape[0]:
        sys.exit(f"{directory}/labels.csv: {len(rows)} rows, crops.npy has {crops.shape[0]}")
    persons = np.array([int(r["person"]) for r in rows], dtype=np.int64)
    return crops, persons


def random_crops(spec, size, seed):
    p, f = (int(v) for v in spec.split(","))
    rng = np.random.default_rng(seed)
    crops = rng.standard_normal((p * f, IN_CHANNELS, size, size), dtype=np.float32)
    return crops, np.repeat(np.arange(p, dtype=np.int64), f)


class Augment:
    """The steps of faceid::Augmenter on one 4 x S x S crop (numpy, vectorised)."""

    def __init__(self, enabled=True, flip_prob=0.5, max_shift=0.06, max_scale=0.08,
                 color_jitter=0.15, depth_noise_mm=3.0, depth_range_mm=150.0, hole_prob=0.3):
        self.enabled = enabled
        self.flip_prob, self.max_shift, self.max_scale = flip_prob, max_shift, max_scale
        self.color_jitter, self.hole_prob = color_jitter, hole_prob
        self.depth_sigma = depth_noise_mm / depth_range_mm

    @staticmethod
    def _axis(size, scale, shift, flip):
        c = 0.5 * (size - 1)
        u = (np.arange(size, dtype=np.float32) - c - shift) / scale + c
        if flip:
            u = (size - 1) - u
        a = np.floor(u)
        w = (u - a).astype(np.float32)
        a = a.astype(np.int64)
        w0 = np.where((a >= 0) & (a < size), 1.0 - w, 0.0).astype(np.float32)
        w1 = np.where((a + 1 >= 0) & (a + 1 < size), w, 0.0).astype(np.float32)
        n = np.floor(u + 0.5).astype(np.int64)
        return (np.clip(a, 0, size - 1), np.clip(a + 1, 0, size - 1), w0, w1,
                np.clip(n, 0, size - 1), (n >= 0) & (n < size))

    def __call__(self, crop, rng):
        x = np.array(crop, dtype=np.float32)  # a private copy
        if not self.enabled:
            return x
        size = x.shape[-1]
        cj = self.color_jitter
        flip = rng.random() < self.flip_prob
        scale = 1.0 + rng.uniform(-self.max_scale, self.max_scale)
        sx, sy = rng.uniform(-self.max_shift * size, self.max_shift * size, 2)
        brightness, contrast, *gain = 1.0 + rng.uniform(-cj, cj, 5)
        # 1. colour jitter in [0, 1]
        col = x[:3] * COLOR_STD[:, None, None] + COLOR_MEAN[:, None, None]
        grey = float((LUMA * col.mean(axis=(1, 2))).sum())
        g = (brightness * np.asarray(gain, dtype=np.float32))[:, None, None]
        col = np.clip(contrast * g * col + (1.0 - contrast) * grey * g, 0.0, 1.0)
        col = (col - COLOR_MEAN[:, None, None]) / COLOR_STD[:, None, None]
        # 2. one warp: bilinear colour, nearest depth, zero outside
        x0, x1, wx0, wx1, xn, xin = self._axis(size, scale, sx, flip)
        y0, y1, wy0, wy1, yn, yin = self._axis(size, scale, sy, False)
        r0, r1 = col[:, y0], col[:, y1]
        out = np.empty_like(x)
        out[:3] = (wy0[:, None] * (r0[:, :, x0] * wx0 + r0[:, :, x1] * wx1)
                   + wy1[:, None] * (r1[:, :, x0] * wx0 + r1[:, :, x1] * wx1))
        depth = x[3][yn][:, xn] * (yin[:, None] & xin[None, :])
        # 3. noise on valid depth
        if self.depth_sigma > 0:
            depth += (rng.standard_normal(depth.shape, dtype=np.float32) * self.depth_sigma
                      * (depth != 0))
        # 4. holes
        if rng.random() < self.hole_prob:
            yy, xx = np.ogrid[:size, :size]
            for _ in range(int(rng.integers(1, 4))):
                cx, cy = rng.uniform(0, size, 2)
                rx, ry = rng.uniform(0.02, 0.075, 2) * size
                if rng.random() < 0.5:
                    mask = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
                else:
                    mask = (np.abs(xx - cx) <= rx) & (np.abs(yy - cy) <= ry)
                depth[mask] = 0.0
        out[3] = depth
        return out


class PairDataset(torch.utils.data.Dataset):
    """Item g (a global pair index, epoch * len + i) is one pair; slot g % batch_pairs below
    `positives` is genuine. Randomness is a function of (seed, g), so it does not depend on the
    worker that builds it."""

    def __init__(self, crops, persons, batch_pairs, positive_fraction, steps, seed, augment):
        self.crops, self.batch_pairs, self.steps, self.seed = crops, batch_pairs, steps, seed
        self.positives = int(round(positive_fraction * batch_pairs))
        self.augment = augment
        n_persons = int(persons.max()) + 1
        self.by_person = [np.flatnonzero(persons == p) for p in range(n_persons)]
        self.pos_persons = [p for p in range(n_persons) if len(self.by_person[p]) >= 2]
        self.neg_persons = [p for p in range(n_persons) if len(self.by_person[p]) >= 1]
        if not self.pos_persons or len(self.neg_persons) < 2:
            sys.exit("the crops need a person with 2 frames and 2 persons with a frame")

    def __len__(self):
        return self.steps * self.batch_pairs

    def __getitem__(self, g):
        rng = np.random.default_rng([self.seed, g])
        if g % self.batch_pairs < self.positives:
            p = self.pos_persons[rng.integers(len(self.pos_persons))]
            i, j = rng.choice(len(self.by_person[p]), 2, replace=False)
            a, b, pa, pb = self.by_person[p][i], self.by_person[p][j], p, p
        else:
            k, l = rng.choice(len(self.neg_persons), 2, replace=False)
            pa, pb = self.neg_persons[k], self.neg_persons[l]
            a = self.by_person[pa][rng.integers(len(self.by_person[pa]))]
            b = self.by_person[pb][rng.integers(len(self.by_person[pb]))]
        return (torch.from_numpy(self.augment(self.crops[a], rng)),
                torch.from_numpy(self.augment(self.crops[b], rng)),
                torch.tensor(float(pa == pb)), torch.tensor(pa), torch.tensor(pb))


class EpochSampler(torch.utils.data.Sampler):
    """Indices epoch * len .. epoch * len + len - 1 in order (samplers run in the main process,
    so set_epoch reaches persistent workers)."""

    def __init__(self, length):
        self.length, self.epoch = length, 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return self.length

    def __iter__(self):
        return iter(range(self.epoch * self.length, (self.epoch + 1) * self.length))


# ---------------------------------------------------------------------------------------------
# Modes
# ---------------------------------------------------------------------------------------------
def train_step(model, optimizer, a, b, same, pa, pb, mining, grad_clip):
    n = a.size(0)
    emb = model(torch.cat([a, b]))
    loss = contrastive_loss(emb[:n], emb[n:], same, pa, pb, 1.0, mining)
    optimizer.zero_grad()
    loss.backward()
    if grad_clip > 0:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.item()


def make_model(args):
    torch.manual_seed(args.seed)
    model = EmbeddingNet(args.variant, args.input_size, args.embedding_dim, args.dropout)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def data_for(args):
    if args.crops:
        crops, persons = load_crops(args.crops)
        if crops.shape[-1] != args.input_size:
            sys.exit(f"{args.crops}/crops.npy: crops are {crops.shape[-1]} px, "
                     f"--input-size is {args.input_size}")
        return crops, persons
    return random_crops(args.random, args.input_size, args.seed)


def mode_train(args):
    crops, persons = data_for(args)
    model = make_model(args)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=1e-4)
    augment = Augment(enabled=not args.no_augment)
    dataset = PairDataset(crops, persons, args.batch_pairs, 0.5, args.steps, args.seed, augment)
    sampler = EpochSampler(len(dataset))
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_pairs, sampler=sampler,
                                         num_workers=args.workers,
                                         persistent_workers=args.workers > 0,
                                         pin_memory=False, prefetch_factor=2 if args.workers else 2)
    epoch_pps, waits, step_pps = [], [], []
    for epoch in range(args.epochs):
        model.train()
        sampler.set_epoch(epoch)
        t0 = time.perf_counter()
        wait = 0.0
        it = iter(loader)
        for _ in range(args.steps):
            tw = time.perf_counter()
            a, b, same, pa, pb = next(it)
            ts = time.perf_counter()
            wait += ts - tw
            if args.channels_last:
                a = a.contiguous(memory_format=torch.channels_last)
                b = b.contiguous(memory_format=torch.channels_last)
            loss = train_step(model, optimizer, a, b, same, pa, pb, args.mining, 5.0)
            if not math.isfinite(loss):
                sys.exit(f"training diverged: loss {loss}")
            if epoch > 0:
                step_pps.append(args.batch_pairs / (time.perf_counter() - tw))
        seconds = time.perf_counter() - t0
        if epoch > 0 or args.epochs == 1:
            epoch_pps.append(args.steps * args.batch_pairs / seconds)
            waits.append(wait / seconds)
        print(f"epoch {epoch + 1}: {args.steps * args.batch_pairs / seconds:.2f} pairs/s, "
              f"data wait {100 * wait / seconds:.1f}%", file=sys.stderr)
    print(f"RESULT train_pairs_per_s={statistics.median(epoch_pps):.4f}")
    print(f"RESULT train_data_wait_fraction={statistics.median(waits):.4f}")
    if step_pps:
        print(f"RESULT train_step_pairs_per_s={statistics.median(step_pps):.4f}")


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def mode_step(args):
    device = torch.device(args.device)
    model = make_model(args).to(device)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=1e-4)
    n, s = args.batch_pairs, args.input_size
    gen = torch.Generator().manual_seed(args.seed)
    a = torch.randn(n, IN_CHANNELS, s, s, generator=gen)
    b = torch.randn(n, IN_CHANNELS, s, s, generator=gen)
    half = n // 2
    pa = torch.arange(n) % 4
    pb = torch.cat([pa[:half], (pa[half:] + 1) % 4])
    same = (pa == pb).float()
    a, b, pa, pb, same = (t.to(device) for t in (a, b, pa, pb, same))
    if args.channels_last:
        a = a.contiguous(memory_format=torch.channels_last)
        b = b.contiguous(memory_format=torch.channels_last)
    times = []
    for i in range(args.warmup + args.steps):
        sync(device)
        t0 = time.perf_counter()
        train_step(model, optimizer, a, b, same, pa, pb, args.mining, 5.0)  # .item() syncs
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
    print(f"RESULT step_pairs_per_s={n / statistics.median(times):.4f}")
    print(f"RESULT step_ms={1e3 * statistics.median(times):.3f}")


def percentile(values, p):
    v = sorted(values)
    k = (len(v) - 1) * p / 100.0
    lo = math.floor(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def mode_embed(args):
    if args.crops:
        crops, _ = data_for(args)
        x = torch.from_numpy(np.array(crops[0:1], dtype=np.float32))
    else:
        x = torch.randn(1, IN_CHANNELS, args.input_size, args.input_size)
    device = torch.device(args.device)
    x = x.to(device)
    model = make_model(args).to(device)
    model.eval()
    if args.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    for name, guard in (("no_grad", torch.no_grad), ("inference_mode", torch.inference_mode)):
        times = []
        with guard():
            for i in range(args.warmup + args.repeat):
                t0 = time.perf_counter()
                model(x)
                sync(device)
                if i >= args.warmup:
                    times.append(1e3 * (time.perf_counter() - t0))
        print(f"RESULT embed_{name}_p50_ms={percentile(times, 50):.4f}")
        print(f"RESULT embed_{name}_p99_ms={percentile(times, 99):.4f}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mode", choices=["train", "step", "embed", "params"], required=True)
    p.add_argument("--variant", default="squeezenet1_1", choices=["squeezenet1_1", "faceid_beta"])
    p.add_argument("--input-size", type=int, default=128)
    p.add_argument("--embedding-dim", type=int, default=128)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--batch-pairs", type=int, default=32)
    p.add_argument("--steps", type=int, default=10, help="train: steps an epoch; step: timed steps")
    p.add_argument("--epochs", type=int, default=3, help="train: epochs (the first is warm-up)")
    p.add_argument("--warmup", type=int, default=3, help="step/embed: untimed iterations")
    p.add_argument("--repeat", type=int, default=200, help="embed: timed single-frame calls")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    p.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    p.add_argument("--crops", help="folder with crops.npy + labels.csv (build/bin/dump_crops)")
    p.add_argument("--random", default="8,16", help="without --crops: PERSONS,FRAMES random")
    p.add_argument("--mining", default="none", choices=["none", "batch_all", "batch_hard"])
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--device", default="cpu", help="step/embed: cpu or cuda[:N]")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), variant "
          f"{args.variant} @ {args.input_size}", file=sys.stderr)
    if args.mode == "params":
        model = make_model(args)
        print(f"RESULT parameters={sum(p.numel() for p in model.parameters())}")
    elif args.mode == "train":
        mode_train(args)
    elif args.mode == "step":
        mode_step(args)
    else:
        mode_embed(args)


if __name__ == "__main__":
    main()
