#!/usr/bin/env bash
# Runs each fuzz target for a while (default 180 s each), seeded with the test fixtures, and
# copies every crash it finds into crates/burn-rnn/tests/fixtures/hostile/ as a regression
# fixture of the normal test suite (tests/import.rs and tests/record.rs read that folder).
#
#   fuzz/run.sh [seconds-per-target] [target...]
#
# Needs the nightly toolchain (`cargo +nightly`); installs cargo-fuzz if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-180}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(torch_import safetensors_import checkpoint)
command -v cargo-fuzz > /dev/null || cargo install cargo-fuzz --locked
fixtures=crates/burn-rnn/tests/fixtures
hostile=$fixtures/hostile
mkdir -p "$hostile"
for target in "${targets[@]}"; do
    case $target in
        torch_import) seeds=("$fixtures"/*.pt); ext=pt ;;
        safetensors_import) seeds=("$fixtures"/*.safetensors); ext=safetensors ;;
        checkpoint) seeds=("$fixtures"/*.mpk); ext=mpk ;;
        *) echo "unknown target $target" >&2; exit 2 ;;
    esac
    corpus=fuzz/corpus/$target
    rm -rf "fuzz/artifacts/$target"
    mkdir -p "$corpus" "fuzz/artifacts/$target"
    cp "${seeds[@]}" "$corpus"/
    # A single allocation over 256 MiB, or 2 GiB in all, counts as a crash: no input of at
    # most 64 KiB may allocate that much.
    cargo +nightly fuzz run "$target" "$corpus" -- \
        -max_total_time="$seconds" -max_len=65536 -malloc_limit_mb=256 -rss_limit_mb=2048 \
        -print_final_stats=1 2>&1 | tee "fuzz/artifacts/$target.log" | grep -E "^(#[0-9]+.*DONE|stat::|==|SUMMARY)" || true
    for crash in fuzz/artifacts/"$target"/*; do
        [ -f "$crash" ] || continue
        name=$target-$(sha1sum "$crash" | cut -c1-12).$ext
        cp "$crash" "$hostile/$name"
        echo "crash: $hostile/$name"
    done
done
