#!/usr/bin/env python3
"""PyTorch side of the side-by-side benchmark (called by `cargo run --release -p rnn-bench`).

Times the same configs as the Rust side on the same CPU with the same thread count:
forward only (no grad) and a training step (forward + backward of mean(output**2)), each the
median of repeated runs after warm-up. Also measures torch's sgemm rate (1024^3).

Usage: pytorch_bench.py --threads 2 --budget 1.0 --configs lstm:32:64:128:256,gru:64:50:500:500
       (kind:batch:seq:input:hidden, and :proj_size after it for an LSTM with a projection)
       [--device cuda]   (the GPU table: cuDNN, synchronized inside the timed region)
Prints one JSON object on stdout: {"torch": version, "device": name, "sgemm_gflops": x,
"results": [{"config": "lstm:32:64:128:256", "forward_ms": a, "train_ms": b,
"forward_peak_mib": c, "train_peak_mib": d}, ...]}. The peaks (Linux, CPU only; null
elsewhere) are how far the process's resident set rose above its size before the timed runs
of that config and mode (`VmHWM` after resetting it through /proc/self/clear_refs).
"""
import argparse
import json
import statistics
import time

import torch


def median_ms(fn, budget, min_reps=3, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_reps or (time.perf_counter() - start < budget and len(times) < 200):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def rss_kib(field):
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def with_peak(fn):
    """Runs fn(); returns its result and how far the peak RSS rose above the RSS before, MiB
    (None where /proc cannot tell)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        before = rss_kib("VmRSS")
    except OSError:
        before = None
    result = fn()
    peak = rss_kib("VmHWM")
    if before is None or peak is None:
        return result, None
    return result, max(peak - before, 0) / 1024


def make(kind, inp, hid, proj):
    if kind == "lstm":
        return torch.nn.LSTM(inp, hid, batch_first=True, proj_size=proj)
    if kind == "gru":
        return torch.nn.GRU(inp, hid, batch_first=True)
    return torch.nn.RNN(inp, hid, batch_first=True, nonlinearity="tanh")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--budget", type=float, default=1.0)
    ap.add_argument("--configs", required=True)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dev = torch.device(args.device)
    if args.device == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("CUDA is not available to torch")
        torch.backends.cudnn.benchmark = True
        name = torch.cuda.get_device_name(0)
    else:
        name = "cpu"

    def sync():
        if args.device == "cuda":
            torch.cuda.synchronize()

    a = torch.randn(1024, 1024, device=dev)
    b = torch.randn(1024, 1024, device=dev)

    def mm():
        torch.mm(a, b)
        sync()

    ms = median_ms(mm, 0.5)
    sgemm = 2 * 1024**3 / (ms * 1e-3) / 1e9

    results = []
    for config in args.configs.split(","):
        kind, *sizes = config.split(":")
        batch, seq, inp, hid, proj = (int(v) for v in (sizes + ["0"])[:5])
        model = make(kind, inp, hid, proj).to(dev)
        x = torch.randn(batch, seq, inp, device=dev)

        def forward():
            with torch.no_grad():
                model(x)
            sync()

        def train():
            model.zero_grad(set_to_none=True)
            out, _ = model(x)
            out.pow(2).mean().backward()
            sync()

        forward_ms, forward_peak = with_peak(lambda: median_ms(forward, args.budget))
        train_ms, train_peak = with_peak(lambda: median_ms(train, args.budget))
        results.append(
            {
                "config": config,
                "forward_ms": forward_ms,
                "train_ms": train_ms,
                "forward_peak_mib": forward_peak,
                "train_peak_mib": train_peak,
            }
        )
    print(
        json.dumps(
            {"torch": torch.__version__, "device": name, "sgemm_gflops": sgemm, "results": results}
        )
    )


if __name__ == "__main__":
    main()
