"""The ratio table of one compare.sh sitting: Strata / PyTorch for every figure both print,
with the issue's target beside it, and each ceiling Strata measured next to the figure it
bounds. Over several rounds, each round pairs the two figures taken back to back and the
table gives the median of the rounds' ratios (the value columns are each side's median).
Reads the JSON lines file compare.sh wrote (lines starting with # are notes).

Usage: python3 bench/compare_table.py LINES.jsonl   (standard library only)
"""
import json
import sys

# Targets of issue 18 at 2 threads: (ratio, "min" if Strata/PyTorch must reach it,
# "max" if it must stay below it). At 1 thread every workload must be at least even.
TARGETS = {"W1": (2.0, "min"), "W1-b16": (2.0, "min"), "W2": (1.5, "min"), "W3": (1.2, "min"),
           "W5": (0.5, "max"), "W6-fwd": (0.2, "max"), "W6-bwd": (0.2, "max"),
           "W1-mem": (0.5, "max"), "W1-b16-mem": (0.5, "max"), "W2-mem": (0.5, "max"),
           "W3-mem": (0.5, "max")}
# Ceiling line -> (figure it bounds, True when the figure is a rate; a time otherwise).
CEILINGS = {"W1-gemm-ceiling": ("W1", True), "W1-b16-gemm-ceiling": ("W1-b16", True),
            "W3-gemm-ceiling": ("W3", True),
            "W4-fma-ceiling": ("W4-1024", True), "W5-stream-ceiling": ("W5", False)}
LOWER_IS_BETTER = ("us/call", "ns/op", "MiB")

def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


# (threads, workload) -> round -> framework -> its JSON line. Files of one round carry no
# "round" field.
figures, order = {}, []
for raw in open(sys.argv[1]):
    if raw.startswith("#") or not raw.strip():
        continue
    r = json.loads(raw)
    key = (r["threads"], r["workload"])
    if key not in figures:
        order.append(key)
        figures[key] = {}
    figures[key].setdefault(r.get("round", 1), {})[r["fw"]] = r


def rounds_of(key, fw):
    """round -> value of `fw`'s figure `key` in that round."""
    return {n: f[fw]["value"] for n, f in figures.get(key, {}).items() if fw in f}


def listed(values, fmt):
    return " · ".join(fmt.format(v) for v in values)


print(f"{'thr':>3} {'workload':<20} {'Strata':>12} {'PyTorch':>12} {'unit':<10} {'S/P':>6} "
      f"{'target':>8}  note")
for threads, w in order:
    strata = rounds_of((threads, w), "strata")
    torch = rounds_of((threads, w), "pytorch")
    unit = next(iter(f["unit"] for r in figures[(threads, w)].values() for f in r.values()))
    if w in CEILINGS:
        bounded, is_rate = CEILINGS[w]
        fig = rounds_of((threads, bounded), "strata")
        # Each round's figure against the ceiling its own process measured.
        effs = [fig[n] / strata[n] if is_rate else strata[n] / fig[n] for n in strata if n in fig]
        if effs:
            print(f"{threads:>3} {w:<20} {median(strata.values()):>12.2f} {'':>12} {unit:<10} "
                  f"{'':>6} {'':>8}  {bounded} at {median(effs):.0%} of it"
                  + (f" (rounds: {listed(effs, '{:.0%}')})" if len(effs) > 1 else ""))
        continue
    paired = [n for n in strata if n in torch]
    if not paired:
        continue
    # The median of the rounds' ratios: each ratio pairs two figures taken back to back.
    ratios = [strata[n] / torch[n] for n in paired]
    ratio = median(ratios)
    lower = unit in LOWER_IS_BETTER
    target, kind = TARGETS.get(w, (1.0, "max" if lower else "min")) if threads != 1 else (
        1.0, "max" if lower else "min")
    met = ratio >= target if kind == "min" else ratio <= target
    tgt = ("≥" if kind == "min" else "≤") + f"{target:g}×"
    note = ("met" if met else "MISSED") + (" (lower is better)" if lower else "")
    if len(ratios) > 1:
        note += f"; rounds {listed(ratios, '{:.2f}×')}"
    print(f"{threads:>3} {w:<20} {median(strata.values()):>12.2f} {median(torch.values()):>12.2f} "
          f"{unit:<10} {ratio:>5.2f}× {tgt:>8}  {note}")
