"""PyTorch's and numpy's side of `cargo bench -p strata-core --bench core`.

The same operations on the same sizes (f32, 2 threads for PyTorch), timed as the median of
repeated runs after a warm-up, printed in the units criterion reports for Strata: GFLOP/s for
matrix products, GB/s (bytes read + written) for elementwise ops and reductions.

Run (torch and numpy in a venv outside the repository):
    python bench/core_ops.py
"""
import argparse
import statistics
import time

import numpy as np
import torch

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--repeats", type=int, default=20)
args = ap.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)


def median_seconds(fn, repeats=args.repeats, warm=3):
    for _ in range(warm):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def report(name, value, unit):
    print(f"{name:36s} {value:10.1f} {unit}")


for n in (64, 256, 1024):
    a, b = torch.randn(n, n), torch.randn(n, n)
    reps = 2000 if n == 64 else args.repeats * (10 if n == 256 else 1)
    s = median_seconds(lambda: torch.mm(a, b), repeats=reps)
    report(f"torch matmul {n}^3", 2 * n**3 / s / 1e9, "GFLOP/s")
an, bn = np.random.randn(1024, 1024).astype(np.float32), np.random.randn(1024, 1024).astype(np.float32)
report("numpy matmul 1024^3", 2 * 1024**3 / median_seconds(lambda: an @ bn) / 1e9, "GFLOP/s")

x = torch.randn(1, 784)
ws = [torch.randn(784, 512), torch.randn(512, 256), torch.randn(256, 10)]
s = median_seconds(lambda: x.mm(ws[0]).mm(ws[1]).mm(ws[2]), repeats=2000)
report("torch mlp_batch1_chain", s * 1e6, "us")

BIG = 1 << 24
a, b = torch.randn(BIG), torch.randn(BIG)
rows, bias = a.reshape(BIG // 1024, 1024), torch.randn(1024)
gb = lambda operands, s: operands * 4 * BIG / s / 1e9
for name, fn, operands in [
    ("add", lambda: a + b, 3),
    ("mul", lambda: a * b, 3),
    ("relu", lambda: torch.relu(a), 2),
    ("exp", lambda: torch.exp(a), 2),
    ("mul_scalar", lambda: a * 2.0, 2),
    ("add_row_broadcast", lambda: rows + bias, 2),
    ("contiguous_of_transpose", lambda: rows.t().contiguous(), 2),
    ("sum_all", lambda: a.sum(), 1),
    ("sum_rows", lambda: rows.sum(1), 1),
    ("sum_columns", lambda: rows.sum(0), 1),
]:
    report(f"torch {name} 64MiB", gb(operands, median_seconds(fn)), "GB/s")

big = np.random.randn(1 << 26).astype(np.float32)  # 256 MB
report("numpy copy 256MB (read+write)", 2 * big.nbytes / median_seconds(lambda: big.copy(), repeats=10) / 1e9, "GB/s")
an, bn = a.numpy(), b.numpy()
report("numpy add 64MiB", gb(3, median_seconds(lambda: an + bn)), "GB/s")
