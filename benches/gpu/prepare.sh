#!/usr/bin/env bash
# Builds and stages the GPU measurement kit: everything run.sh needs on a GPU machine that has
# the NVIDIA driver and PyTorch but no Rust toolchain (see benches/gpu/README.md).
#
#   benches/gpu/prepare.sh [--wgpu-only] [KIT_DIR]      (default KIT_DIR: .gpu-kit)
#
# --wgpu-only builds only the wgpu benchmark (what CI runs on lavapipe); the full kit also
# holds the CUDA benchmark and char-rnn built with CUDA.
#
# KIT_PROFILE (default release) is the cargo profile the binaries are built with, and KIT_XZ
# (default 9) the xz level they travel at: CI checks the kit with `KIT_PROFILE=dev KIT_XZ=1`,
# which reuses the dependencies its test build made. Timings need the default.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

wgpu_only=0
kit=.gpu-kit
for arg in "$@"; do
  case $arg in
    --wgpu-only) wgpu_only=1 ;;
    -h | --help) sed -n '2,8p' "$0"; exit 0 ;;
    -*) echo "prepare.sh: unknown flag $arg (see --help)" >&2; exit 2 ;;
    *) kit=$arg ;;
  esac
done
if [ "$(uname -m)" != x86_64 ]; then
  echo "prepare.sh: build on x86-64 (the GPU machines are x86-64)" >&2
  exit 2
fi
export CARGO_INCREMENTAL=0
profile=${KIT_PROFILE:-release}
profile_dir=$profile
[ "$profile" = dev ] && profile_dir=debug
start=$(date +%s)
say() { echo "prepare.sh: $* ($(( $(date +%s) - start )) s)"; }

rm -rf "$kit"
mkdir -p "$kit/bin" "$kit/deb"

# cargo build, then copy the binary into the kit under a name of its own (the next build with
# other features overwrites target/release).
build() { # package binary features kit-name
  say "building $1 ($2) with --features $3"
  cargo build --profile "$profile" -q -p "$1" --bin "$2" --features "$3"
  cp "${CARGO_TARGET_DIR:-target}/$profile_dir/$2" "$kit/bin/$4"
  strip "$kit/bin/$4" 2>/dev/null || true
}
build rnn-bench rnn-bench wgpu rnn-bench-wgpu
if [ "$wgpu_only" = 0 ]; then
  build rnn-bench rnn-bench cuda rnn-bench-cuda
  build char-rnn char-rnn cuda char-rnn-cuda
fi

# The binaries travel xz-compressed (about a sixth of their size); run.sh unpacks them.
say "compressing the binaries"
{
  echo "glibc needed: $(objdump -T "$kit"/bin/* 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
  echo "binaries: $(cd "$kit/bin" && ls | tr '\n' ' ')"
} >"$kit/bin.txt"
tar -C "$kit" -cf - bin | xz -T0 "-${KIT_XZ:-9}" >"$kit/bin.tar.xz"
rm -rf "$kit/bin"

cp benches/pytorch_bench.py examples/char-rnn/pytorch_reference.py benches/gpu/run.sh "$kit/"
chmod +x "$kit/run.sh"

# The Vulkan loader wgpu opens (libvulkan.so.1), as Debian packages: a GPU machine set up for
# CUDA alone often has the NVIDIA driver's Vulkan ICD but no loader. run.sh unpacks them.
say "downloading the Vulkan loader packages"
if ! (cd "$kit/deb" && apt-get download -q libvulkan1 >/dev/null 2>&1); then
  apt-get update -qq >/dev/null 2>&1 || true
  (cd "$kit/deb" && apt-get download -q libvulkan1 >/dev/null) ||
    echo "prepare.sh: warning: apt-get download libvulkan1 failed; run.sh will use the GPU machine's own loader" >&2
fi

{
  echo "commit: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$repo" diff --quiet 2>/dev/null || echo ' (uncommitted changes)')"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m), $(rustc --version)"
  cat "$kit/bin.txt"
} >"$kit/VERSION"
rm "$kit/bin.txt"

size=$(du -sm "$kit" | cut -f1)
say "staged $kit: ${size} MiB"
cat "$kit/VERSION"
if [ "$size" -ge 60 ]; then
  echo "prepare.sh: the kit is ${size} MiB, over the 60 MiB a GPU machine can carry" >&2
  exit 1
fi
