"""PyTorch side of benchmark W3 (BENCHMARKS.md): character LSTM, vocabulary 96, embedding 64,
1-layer LSTM hidden 256, linear to 96, cross-entropy at every step, sequence 64, batch 32,
Adam lr 1e-3, 50 training steps; 2 threads. Same loop as /work/shared/bench/pytorch_bench.py.
Usage: python bench/w3_lstm.py [--threads 2]   (prints `w3: tokens_per_s=...`)"""
import argparse, statistics, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=2)
args = ap.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)

VOCAB, EMB, HIDDEN, SEQ, BATCH, STEPS = 96, 64, 256, 64, 32, 50


class CharLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, EMB)
        self.lstm = nn.LSTM(EMB, HIDDEN, batch_first=True)
        self.out = nn.Linear(HIDDEN, VOCAB)

    def forward(self, x):
        h, _ = self.lstm(self.emb(x))
        return self.out(h)


model = CharLSTM()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
rng = np.random.default_rng(0)


def run(n):
    t0 = time.perf_counter()
    for _ in range(n):
        t = torch.from_numpy(rng.integers(0, VOCAB, (BATCH, SEQ + 1)))
        x, y = t[:, :-1], t[:, 1:]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x).reshape(-1, VOCAB), y.reshape(-1))
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


run(5)
tokens_per_s = statistics.median(BATCH * SEQ * STEPS / run(STEPS) for _ in range(3))
print(f"w3: tokens_per_s={tokens_per_s:.0f}")
