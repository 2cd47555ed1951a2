#!/usr/bin/env python3
"""PyTorch side of `cargo run --release -p rnn-bench --bin memory`: the same training step
(1-layer LSTM, T = 1000, N = 32, H_in = 256, H = 512, mean(output**2), backward) and the
process's peak resident set before and after it (VmHWM from /proc/self/status)."""
import time

import torch


def vmhwm_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    seq, batch, inp, hid = 1000, 32, 256, 512
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(inp, hid, batch_first=True)
    x = torch.rand(batch, seq, inp)
    before = vmhwm_mib()
    start = time.perf_counter()
    out, _ = lstm(x)
    out.pow(2).mean().backward()
    after = vmhwm_mib()
    print(
        f"PyTorch {torch.__version__} LSTM T={seq} N={batch} H_in={inp} H={hid}: peak RSS "
        f"{after:.0f} MiB (before the step {before:.0f} MiB, step +{after - before:.0f} MiB); "
        f"step took {time.perf_counter() - start:.1f} s"
    )


if __name__ == "__main__":
    main()
