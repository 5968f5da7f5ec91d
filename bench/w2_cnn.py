"""PyTorch side of benchmark W2 (see /work/shared/BENCHMARKS.md and
crates/strata/examples/bench_w2.rs): a small CNN trained on random MNIST batches of 64 with
Adam (lr 1e-3); 5 warm-up steps, then the median over 3 runs of 100 steps of samples/s.

Usage: python bench/w2_cnn.py [MNIST_DIR] [--threads 2]   (default MNIST_DIR: data/mnist)
Prints one line: `w2_pytorch: samples_per_s=...`."""
import argparse, gzip, os, statistics, struct, sys, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("mnist", nargs="?", default=os.path.join(os.path.dirname(__file__), "..", "data", "mnist"))
ap.add_argument("--threads", type=int, default=2)
args = ap.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)


def idx(path):
    raw = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
    nd = raw[3]
    dims = struct.unpack(">" + "I" * nd, raw[4:4 + 4 * nd])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def find(name):
    for f in sorted(os.listdir(args.mnist)):
        if f.startswith(name):
            return os.path.join(args.mnist, f)
    sys.exit(f"missing {name} in {args.mnist}")


xtr = idx(find("train-images"))
ytr = idx(find("train-labels")).astype(np.int64)
BATCH, STEPS = 64, 100

model = nn.Sequential(
    nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
rng = np.random.default_rng(0)


def run(n):
    t0 = time.perf_counter()
    for _ in range(n):
        i = rng.integers(0, len(xtr), BATCH)
        x = torch.from_numpy(xtr[i].astype(np.float32) / 255.0).reshape(BATCH, 1, 28, 28)
        y = torch.from_numpy(ytr[i])
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return time.perf_counter() - t0


run(5)
rate = statistics.median(BATCH * STEPS / run(STEPS) for _ in range(3))
print(f"w2_pytorch: samples_per_s={rate:.1f}")
