#!/usr/bin/env bash
# Runs the cargo-fuzz targets of strata-data for a bounded time each (not part of CI).
#
#   scripts/fuzz.sh            # every target, 60 s each
#   scripts/fuzz.sh 300 idx    # just `idx`, 5 minutes
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). cargo-fuzz passes nightly-only flags
# (-Zsanitizer=address); on a stable toolchain RUSTC_BOOTSTRAP=1 allows them (set below
# unless already set), or run with a nightly toolchain: `RUSTUP_TOOLCHAIN=nightly scripts/fuzz.sh`.
# Crashes are saved under crates/strata-data/fuzz/artifacts/<target>/.
set -euo pipefail

seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(idx cifar)
fi

cd "$(dirname "$0")/../crates/strata-data"
export RUSTC_BOOTSTRAP="${RUSTC_BOOTSTRAP:-1}"

# Seed the corpora with real and hand-made files so the fuzzer starts from valid input.
mkdir -p fuzz/corpus/idx fuzz/corpus/cifar
cp ../../data/mnist/t10k-labels-idx1-ubyte.gz fuzz/corpus/idx/ 2>/dev/null || true
printf '\x00\x00\x08\x02\x00\x00\x00\x02\x00\x00\x00\x03\x01\x02\x03\x04\x05\x06' > fuzz/corpus/idx/tiny_u8
printf '\x00\x00\x0e\x01\x00\x00\x00\x01\x3f\xf8\x00\x00\x00\x00\x00\x00' > fuzz/corpus/idx/one_f64
head -c 3073 /dev/zero > fuzz/corpus/cifar/one_record_cifar10
head -c 3074 /dev/zero > fuzz/corpus/cifar/one_record_cifar100

failed=()
for target in "${targets[@]}"; do
    echo "== fuzzing $target for ${seconds}s"
    if ! cargo fuzz run "$target" -- -max_total_time="$seconds" -max_len=16384; then
        failed+=("$target")
    fi
done
if [ ${#failed[@]} -ne 0 ]; then
    echo "== crashes in: ${failed[*]} (see fuzz/artifacts/)"
    exit 1
fi
echo "== no crashes"
