"""The ratio table of one compare.sh sitting: Strata / PyTorch for every figure both print,
with the issue's target beside it, and each ceiling Strata measured next to the figure it
bounds. Reads the JSON lines file compare.sh wrote (lines starting with # are notes).

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
            "W4-fma-ceiling": ("W4-1024", True), "W5-stream-ceiling": ("W5", False)}
LOWER_IS_BETTER = ("us/call", "ns/op", "MiB")

figures, order = {}, []
for raw in open(sys.argv[1]):
    if raw.startswith("#") or not raw.strip():
        continue
    r = json.loads(raw)
    key = (r["threads"], r["workload"])
    if key not in figures:
        order.append(key)
        figures[key] = {}
    figures[key][r["fw"]] = r

print(f"{'thr':>3} {'workload':<20} {'Strata':>12} {'PyTorch':>12} {'unit':<10} {'S/P':>6} "
      f"{'target':>8}  note")
for threads, w in order:
    f = figures[(threads, w)]
    s, p = f.get("strata"), f.get("pytorch")
    if w in CEILINGS:
        bounded, is_rate = CEILINGS[w]
        fig = figures.get((threads, bounded), {}).get("strata")
        if s and fig:
            eff = fig["value"] / s["value"] if is_rate else s["value"] / fig["value"]
            print(f"{threads:>3} {w:<20} {s['value']:>12.2f} {'':>12} {s['unit']:<10} {'':>6} {'':>8}  "
                  f"{bounded} at {eff:.0%} of it")
        continue
    if not (s and p):
        continue
    ratio = s["value"] / p["value"]
    lower = s["unit"] in LOWER_IS_BETTER
    target, kind = TARGETS.get(w, (1.0, "max" if lower else "min")) if threads != 1 else (
        1.0, "max" if lower else "min")
    met = ratio >= target if kind == "min" else ratio <= target
    tgt = ("≥" if kind == "min" else "≤") + f"{target:g}×"
    note = ("met" if met else "MISSED") + (" (lower is better)" if lower else "")
    print(f"{threads:>3} {w:<20} {s['value']:>12.2f} {p['value']:>12.2f} {s['unit']:<10} {ratio:>5.2f}× "
          f"{tgt:>8}  {note}")
