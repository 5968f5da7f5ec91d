#!/usr/bin/env python3
"""Check a strata run directory's TensorBoard event files with TensorBoard's own reader.

Usage:
    python3 -m venv /tmp/tbvenv && /tmp/tbvenv/bin/pip install tensorboard \
        && /tmp/tbvenv/bin/python scripts/check_tensorboard.py RUN_DIR [SCALAR_TAG ...]

Prints every tag TensorBoard finds, then checks that
  * each SCALAR_TAG given exists and all its values are finite,
  * every histogram loads, has as many counts as bucket limits, and its counts sum to `num`,
  * every image loads, is a PNG, and its IHDR size matches the width and height recorded.
Exits with status 1 and a message on the first failure, 0 after printing "OK".
"""

import glob
import math
import os
import struct
import sys

from tensorboard.backend.event_processing.event_accumulator import (
    DEFAULT_SIZE_GUIDANCE,
    EventAccumulator,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def check_scalars(acc, tags, required):
    for tag in tags:
        events = acc.Scalars(tag)
        values = ", ".join(f"{e.step}: {e.value:.6g}" for e in events[:5])
        more = f", ... ({len(events)} in all)" if len(events) > 5 else ""
        print(f"  scalar {tag}: {values}{more}")
    for tag in required:
        if tag not in tags:
            fail(f"scalar tag {tag!r} not found (have {sorted(tags)})")
        bad = [(e.step, e.value) for e in acc.Scalars(tag) if not math.isfinite(e.value)]
        if bad:
            fail(f"scalar {tag!r} has non-finite values at (step, value) {bad[:5]}")


def check_histograms(acc, tags):
    for tag in tags:
        for event in acc.Histograms(tag):
            h = event.histogram_value
            if len(h.bucket) != len(h.bucket_limit):
                fail(f"histogram {tag!r} step {event.step}: {len(h.bucket)} counts, "
                     f"{len(h.bucket_limit)} limits")
            if not math.isclose(sum(h.bucket), h.num, rel_tol=1e-9, abs_tol=1e-9):
                fail(f"histogram {tag!r} step {event.step}: counts sum to {sum(h.bucket)}, "
                     f"num is {h.num}")
            print(f"  histogram {tag} step {event.step}: num={h.num:g} min={h.min:g} "
                  f"max={h.max:g} sum={h.sum:g} sum_squares={h.sum_squares:g} "
                  f"limits={list(h.bucket_limit)} counts={list(h.bucket)}")


def check_images(acc, tags):
    for tag in tags:
        for event in acc.Images(tag):
            png = event.encoded_image_string
            if not png.startswith(PNG_SIGNATURE) or png[12:16] != b"IHDR":
                fail(f"image {tag!r} step {event.step} is not a PNG")
            width, height = struct.unpack(">II", png[16:24])
            if (width, height) != (event.width, event.height):
                fail(f"image {tag!r} step {event.step}: PNG is {width}x{height}, "
                     f"event says {event.width}x{event.height}")
            print(f"  image {tag} step {event.step}: {width}x{height} PNG, {len(png)} bytes")


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    run_dir, required = sys.argv[1], sys.argv[2:]
    files = sorted(glob.glob(os.path.join(run_dir, "events.out.tfevents.*")))
    if not files:
        fail(f"no events.out.tfevents.* file in {run_dir}")
    print("event files:", ", ".join(os.path.basename(f) for f in files))

    # Keep every event, not TensorBoard's default sample.
    acc = EventAccumulator(run_dir, size_guidance={k: 0 for k in DEFAULT_SIZE_GUIDANCE})
    acc.Reload()
    tags = acc.Tags()
    for kind in ("scalars", "histograms", "images"):
        print(f"{kind}: {sorted(tags.get(kind, []))}")

    check_scalars(acc, tags.get("scalars", []), required)
    check_histograms(acc, tags.get("histograms", []))
    check_images(acc, tags.get("images", []))
    print("OK")


if __name__ == "__main__":
    main()
