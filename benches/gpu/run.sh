#!/usr/bin/env bash
# Fills the GPU table on a machine with an NVIDIA GPU, its driver and PyTorch: the staged kit
# (benches/gpu/prepare.sh) holds everything else. See benches/gpu/README.md.
#
#   KIT/run.sh OUT_DIR [--tiny]
#
# Writes into OUT_DIR: table.md (the tables, with the GPU's name), results.json (every row),
# log.txt (everything printed). About 6 minutes at most; --tiny is a seconds-long check of the
# script itself (a tiny budget, one small config, wgpu only), which CI runs on lavapipe.
# PYTHON names the interpreter with torch (default python3).
set -uo pipefail

kit=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: run.sh OUT_DIR [--tiny]}
tiny=0
[ "${2:-}" = --tiny ] && tiny=1
mkdir -p "$out"
out=$(cd "$out" && pwd)
exec > >(tee "$out/log.txt") 2>&1
start=$(date +%s)
say() { echo "== $* ($(( $(date +%s) - start )) s)"; }
python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ "$tiny" = 1 ]; then
  configs="rnn 1/96/64/64"
  budget=0.01
  limit=120
else
  configs="lstm 16/25/512/512,lstm 64/100/123/320,gru 64/50/500/500,rnn 1/96/64/64"
  budget=0.3
  limit=150
fi

say "kit"
cat "$kit/VERSION" 2>/dev/null || echo "(no VERSION file: not staged by prepare.sh?)"
# The binaries, xz-compressed by prepare.sh.
"$python" -c 'import sys, tarfile
kw = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
tarfile.open(sys.argv[1]).extractall(sys.argv[2], **kw)' \
  "$kit/bin.tar.xz" "$work" || tar -C "$work" -xJf "$kit/bin.tar.xz" ||
  echo "cannot unpack $kit/bin.tar.xz"
bins=$work/bin
ls -l "$bins"

say "GPU"
if command -v nvidia-smi >/dev/null && nvidia-smi -L; then
  gpu=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1)
else
  gpu=""
  echo "no NVIDIA GPU here (nvidia-smi missing or failing): the CUDA parts are skipped"
fi

say "Vulkan loader from the kit"
# Unpacks the kit's .deb files with dpkg-deb, or with Python where dpkg is missing.
mkdir -p "$work/root"
for deb in "$kit"/deb/*.deb; do
  [ -e "$deb" ] || continue
  if command -v dpkg-deb >/dev/null; then
    dpkg-deb -x "$deb" "$work/root"
  else
    "$python" - "$deb" "$work/root" <<'PY'
import io, sys, tarfile
deb, dest = sys.argv[1], sys.argv[2]
data = open(deb, "rb").read()
assert data[:8] == b"!<arch>\n", "not a .deb"
pos = 8
while pos < len(data):
    header = data[pos:pos + 60]
    name, size = header[:16].decode().strip().rstrip("/"), int(header[48:58])
    body = data[pos + 60:pos + 60 + size]
    if name.startswith("data.tar"):
        kw = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tarfile.open(fileobj=io.BytesIO(body)).extractall(dest, **kw)
    pos += 60 + size + (size % 2)
PY
  fi
  echo "unpacked $(basename "$deb")"
done
export LD_LIBRARY_PATH="$work/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
icds=$(ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json 2>/dev/null)
if [ -z "$icds" ] && [ -n "$gpu" ]; then
  # A container set up for CUDA may have the NVIDIA driver's Vulkan library without its ICD file.
  nv=$(ldconfig -p 2>/dev/null | grep -o '/[^ ]*libGLX_nvidia.so.0' | head -1)
  if [ -n "$nv" ]; then
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' \
      "$nv" >"$work/nvidia_icd.json"
    export VK_ICD_FILENAMES="$work/nvidia_icd.json"
    icds="$work/nvidia_icd.json (written for $nv)"
  fi
fi
echo "Vulkan drivers: ${icds:-none found}"

# NVRTC (which CubeCL's CUDA runtime compiles its kernels with) ships with PyTorch's wheels
# when the machine has no CUDA toolkit.
if [ -n "$gpu" ]; then
  libs=$("$python" - <<'PY' 2>/dev/null
import glob, os, site
roots = site.getsitepackages() + [site.getusersitepackages()]
dirs = {os.path.dirname(p) for r in roots for p in glob.glob(os.path.join(r, "nvidia", "*", "lib", "lib*.so*"))}
print(":".join(sorted(dirs)))
PY
  )
  for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
    [ -d "$d" ] && libs="$libs:$d"
  done
  mkdir -p "$work/lib"
  nvrtc=$(IFS=:; for d in $libs; do ls "$d"/libnvrtc.so* 2>/dev/null; done | grep -v builtins | head -1)
  if [ -n "$nvrtc" ]; then
    ln -sf "$nvrtc" "$work/lib/libnvrtc.so"
    echo "NVRTC: $nvrtc"
  else
    echo "NVRTC: not found (the CUDA benchmark will fail to compile its kernels)"
  fi
  export LD_LIBRARY_PATH="$work/lib:${libs#:}:$LD_LIBRARY_PATH"
fi

"$python" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" ||
  echo "no torch for $python: the PyTorch columns are skipped"

table() { # binary name: runs one GPU table, its markdown into $work/name.md
  local bin=$bins/$1 name=$2
  if [ ! -x "$bin" ]; then
    echo "$1 is not in the kit" | tee "$work/$name.md"
    return
  fi
  say "$name table"
  timeout "$limit" "$bin" --gpu-only --gpu-all --only "$configs" --budget "$budget" \
    --python "$python" --torch-script "$kit/pytorch_bench.py" --json "$work/$name.json" \
    >"$work/$name.md"
  local rc=$?
  cat "$work/$name.md"
  if [ "$rc" != 0 ]; then
    echo "$name table: exit code $rc$([ "$rc" = 124 ] && echo " (over ${limit} s)")" |
      tee -a "$work/$name.md"
  fi
}
if [ -n "$gpu" ]; then
  table rnn-bench-cuda cuda
fi
table rnn-bench-wgpu wgpu

char_rnn() { # char-rnn training steps per second on CUDA, ours vs PyTorch's reference script
  local bin=$bins/char-rnn-cuda steps=300
  say "char-rnn"
  "$bin" corpus --out "$work/corpus.txt" || return
  local ours torch
  ours=$(timeout 120 "$bin" train --corpus "$work/corpus.txt" --out "$work/char-rnn" \
    --steps "$steps" --lr-decay 1.0 --eval-every 100000 --checkpoint-every 100000 --sample 0 \
    --quiet | tail -1)
  echo "burn-rnn: $ours"
  torch=$(timeout 120 "$python" "$kit/pytorch_reference.py" --corpus "$work/corpus.txt" \
    --steps "$steps" --eval-every 100000 --device cuda | tail -1)
  echo "PyTorch: $torch"
  local o p
  o=$(sed -nE 's/.* ([0-9.]+) ms\/step.*/\1/p' <<<"$ours")
  p=$(sed -nE 's/.* ([0-9.]+) ms\/step.*/\1/p' <<<"$torch")
  {
    echo "## char-rnn training on CUDA (default recipe, embedded corpus, $steps steps)"
    echo
    echo "| | ms/step | steps/s |"
    echo "| --- | --- | --- |"
    awk -v o="$o" -v p="$p" 'BEGIN {
      if (o > 0) printf "| burn-rnn (CUDA) | %.2f | %.1f |\n", o, 1000 / o; else print "| burn-rnn (CUDA) | failed | |"
      if (p > 0) printf "| PyTorch (cuDNN) | %.2f | %.1f |\n", p, 1000 / p; else print "| PyTorch (cuDNN) | failed | |"
      if (o > 0 && p > 0) printf "\nPyTorch time / ours: %.2fx (above 1.00x ours is faster)\n", p / o }'
  } >"$work/char-rnn.md"
  cat "$work/char-rnn.md"
}
if [ -n "$gpu" ] && [ "$tiny" = 0 ] && [ -x "$bins/char-rnn-cuda" ]; then
  char_rnn
fi

say "writing $out"
{
  echo "# GPU table"
  echo
  echo "GPU: ${gpu:-none (no nvidia-smi)}. Kit $(head -1 "$kit/VERSION" 2>/dev/null). $(date -u +%Y-%m-%d)."
  for part in cuda wgpu char-rnn; do
    [ -f "$work/$part.md" ] && { echo; cat "$work/$part.md"; }
  done
} >"$out/table.md"
"$python" - "$work" "$out/results.json" "$gpu" <<'PY' || echo "results.json: not written"
import json, os, sys
work, dest, gpu = sys.argv[1:4]
doc = {"gpu": gpu or None, "tables": {}}
for name in ("cuda", "wgpu"):
    path = os.path.join(work, name + ".json")
    if os.path.exists(path):
        doc["tables"][name] = json.load(open(path))
path = os.path.join(work, "char-rnn.md")
if os.path.exists(path):
    doc["char_rnn"] = open(path).read()
json.dump(doc, open(dest, "w"), indent=2)
PY
say "done"
ls -l "$out"
