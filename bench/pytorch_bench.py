"""PyTorch (CPU) side of the workloads of `strata bench` (see ../BENCHMARKS.md).

A copy of ../../shared/bench/pytorch_bench.py (W1-W5) extended with what `strata bench`
adds: W1 at batch 16 (W1-b16), W6 (per-op overhead: 100 elementwise ops add, mul, tanh in
turn on 64-element tensors that require grad, then backward; ns per op, W6-fwd and W6-bwd)
and the peak resident memory of each training workload (W1-mem, W1-b16-mem, W2-mem,
W3-mem: getrusage's maximum RSS, MiB). Each workload runs in a fresh process (this script
runs itself with --child), as `strata bench` does, so a workload's memory is its own.

Usage: python pytorch_bench.py MNIST_DIR [--threads 2] [--only W1,W1-b16,W2,W3,W4,W5,W6]
                               [--accuracy] [--json]

Prints one line per measurement. With --json each line is a JSON object:
  {"fw": "pytorch", "workload": "W1", "value": ..., "unit": ..., "repeats": [...], "cpu_util": ...}
`value` is the median of the repeats; `cpu_util` is process CPU time / wall time over the timed
repeats (about 2.0 means both cores were busy, 1.0 means one).
"""
import argparse
import gzip
import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("mnist")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--json", action="store_true")
ap.add_argument("--only", default="W1,W1-b16,W2,W3,W4,W5,W6")
ap.add_argument("--accuracy", action="store_true", help="train W1's MLP one epoch, report test accuracy")
ap.add_argument("--repeats", type=int, default=3)
ap.add_argument("--child", action="store_true", help="run the workloads in this process (what each fresh process does)")
args = ap.parse_args()

TRAINING = ("W1", "W1-b16", "W2", "W3")
if not args.child:
    # One fresh process per workload, in order; the children print JSON lines, relayed here.
    for w in args.only.split(","):
        cmd = [sys.executable, os.path.abspath(__file__), args.mnist, "--threads", str(args.threads),
               "--only", w, "--repeats", str(args.repeats), "--child"]
        if args.json:
            cmd.append("--json")
        subprocess.run(cmd, check=True)
    if args.accuracy:
        cmd = [sys.executable, os.path.abspath(__file__), args.mnist, "--threads", str(args.threads),
               "--only", "", "--accuracy", "--child"] + (["--json"] if args.json else [])
        subprocess.run(cmd, check=True)
    sys.exit(0)

# Imported only in the processes that measure.
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(args.threads)
torch.manual_seed(0)
only = set(args.only.split(","))
FW = "pytorch"
REPEATS = args.repeats
WARMUP = 5


def idx(path):
    raw = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
    nd = raw[3]
    dims = struct.unpack(">" + "I" * nd, raw[4:4 + 4 * nd])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def find(name):
    """train-images.idx3-ubyte, train-images-idx3-ubyte or the .gz of either; raw preferred."""
    cands = sorted(f for f in os.listdir(args.mnist) if f.startswith(name) and not f.startswith("._"))
    cands.sort(key=lambda f: f.endswith(".gz"))
    if not cands:
        sys.exit(f"missing {name}* in {args.mnist}")
    return os.path.join(args.mnist, cands[0])


if only & {"W1", "W1-b16", "W2"} or args.accuracy:
    # Only the workloads that train on MNIST load it, so no other workload's memory holds it.
    xtr = idx(find("train-images")).reshape(-1, 784)  # u8, kept in memory as the source for batches
    ytr = idx(find("train-labels")).astype(np.int64)
if args.accuracy:
    xte = idx(find("t10k-images")).reshape(-1, 784)
    yte = idx(find("t10k-labels")).astype(np.int64)


def emit(workload, value, unit, repeats=None, cpu_util=None, extra=None):
    r = {"fw": FW, "workload": workload, "value": round(value, 2), "unit": unit}
    if repeats is not None:
        r["repeats"] = [round(v, 2) for v in repeats]
    if cpu_util is not None:
        r["cpu_util"] = round(cpu_util, 2)
    if extra:
        r.update(extra)
    if args.json:
        print(json.dumps(r), flush=True)
    else:
        rep = "" if repeats is None else "  repeats " + ", ".join(f"{v:.1f}" for v in repeats)
        cu = "" if cpu_util is None else f"  cpu {cpu_util:.2f}"
        ex = "".join(f"  {k} {v}" for k, v in (extra or {}).items())
        print(f"{FW:<8} {workload:<14} {value:>12.1f} {unit}{rep}{cu}{ex}", flush=True)


def timed(fn):
    """Wall and CPU seconds of fn()."""
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def train_bench(workload, model, batch, steps, make_batch, loss_of, per_step_units, unit):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)

    def run(n):
        for _ in range(n):
            x, y = make_batch(rng, batch)
            opt.zero_grad(set_to_none=True)
            loss = loss_of(model, x, y)
            loss.backward()
            opt.step()

    run(WARMUP)
    vals, wall, cpu = [], 0.0, 0.0
    for _ in range(REPEATS):
        w, c = timed(lambda: run(steps))
        vals.append(per_step_units * steps / w)
        wall += w
        cpu += c
    emit(workload, statistics.median(vals), unit, vals, cpu / wall)


def mnist_batch(flat):
    def make(rng, b):
        i = rng.integers(0, len(xtr), b)
        x = torch.from_numpy(xtr[i].astype(np.float32) / np.float32(255.0))
        x = x.reshape(b, 784) if flat else x.reshape(b, 1, 28, 28)
        return x, torch.from_numpy(ytr[i])
    return make


def ce(m, x, y):
    return F.cross_entropy(m(x), y)


def mlp():
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))


class CharLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(96, 64)
        self.lstm = nn.LSTM(64, 256, batch_first=True)
        self.out = nn.Linear(256, 96)

    def forward(self, x):
        h, _ = self.lstm(self.emb(x))
        return self.out(h)


if "W1" in only:
    torch.manual_seed(0)
    train_bench("W1", mlp(), 128, 200, mnist_batch(True), ce, 128, "samples/s")

if "W1-b16" in only:
    torch.manual_seed(0)
    train_bench("W1-b16", mlp(), 16, 500, mnist_batch(True), ce, 16, "samples/s")

if "W2" in only:
    torch.manual_seed(0)
    cnn = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
    train_bench("W2", cnn, 64, 100, mnist_batch(False), ce, 64, "samples/s")

if "W3" in only:
    torch.manual_seed(0)

    def seq_batch(rng, b):
        t = torch.from_numpy(rng.integers(0, 96, (b, 65)))
        return t[:, :-1], t[:, 1:]

    def lm(m, x, y):
        return F.cross_entropy(m(x).reshape(-1, 96), y.reshape(-1))

    train_bench("W3", CharLSTM(), 32, 50, seq_batch, lm, 32 * 64, "tokens/s")

if "W4" in only:
    for n, k in ((1024, 20), (256, 400)):
        a, b = torch.randn(n, n), torch.randn(n, n)
        for _ in range(5):
            a @ b
        vals, wall, cpu = [], 0.0, 0.0
        for _ in range(REPEATS):
            def go():
                for _ in range(k):
                    a @ b
            w, c = timed(go)
            vals.append(2 * n ** 3 * k / w / 1e9)
            wall += w
            cpu += c
        emit("W4-1024" if n == 1024 else "W4-256", statistics.median(vals), "GFLOP/s", vals, cpu / wall)

if "W5" in only:
    torch.manual_seed(0)
    m = mlp().eval()
    x = torch.rand(1, 784)
    with torch.no_grad():
        for _ in range(200):
            m(x).numpy()
        ts = []
        c0 = time.process_time()
        w0 = time.perf_counter()
        for _ in range(2000):
            t0 = time.perf_counter()
            m(x).numpy()  # read the 10 logits back, as every peer does
            ts.append(time.perf_counter() - t0)
        util = (time.process_time() - c0) / (time.perf_counter() - w0)
    emit("W5", statistics.median(ts) * 1e6, "us/call", None, util,
         {"p10": round(float(np.percentile(ts, 10)) * 1e6, 2), "p90": round(float(np.percentile(ts, 90)) * 1e6, 2)})

if "W6" in only:
    torch.manual_seed(0)
    x = torch.randn(64, requires_grad=True)
    addend = torch.randn(64, requires_grad=True)
    factor = torch.rand(64, requires_grad=True)
    seed = torch.ones(64)
    OPS = 100

    def chain_times(n):
        """Total forward and backward seconds of n chains; gradients dropped untimed."""
        fwd = bwd = 0.0
        for _ in range(n):
            t0 = time.perf_counter()
            y = x
            for i in range(OPS):
                y = y + addend if i % 3 == 0 else (y * factor if i % 3 == 1 else torch.tanh(y))
            t1 = time.perf_counter()
            y.backward(seed)
            t2 = time.perf_counter()
            x.grad = addend.grad = factor.grad = None
            fwd += t1 - t0
            bwd += t2 - t1
        return fwd, bwd

    chain_times(20)
    fwds, bwds = [], []
    for _ in range(REPEATS):
        f, b = chain_times(200)
        fwds.append(f * 1e9 / (200 * OPS))
        bwds.append(b * 1e9 / (200 * OPS))
    emit("W6-fwd", statistics.median(fwds), "ns/op", fwds)
    emit("W6-bwd", statistics.median(bwds), "ns/op", bwds)

for w in TRAINING:
    if w in only:
        # Linux reports ru_maxrss in KiB.
        emit(w + "-mem", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "MiB")

if args.accuracy:
    torch.manual_seed(0)
    m = mlp()
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    perm = np.random.default_rng(0).permutation(len(xtr))
    t0 = time.perf_counter()
    for s in range(0, len(xtr), 128):
        i = perm[s:s + 128]
        x = torch.from_numpy(xtr[i].astype(np.float32) / np.float32(255.0))
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(m(x), torch.from_numpy(ytr[i])).backward()
        opt.step()
    secs = time.perf_counter() - t0
    with torch.no_grad():
        pred = m(torch.from_numpy(xte.astype(np.float32) / np.float32(255.0))).argmax(1).numpy()
    emit("W1-acc", float((pred == yte).mean()) * 100, "% test", None, None, {"epoch_s": round(secs, 2)})
