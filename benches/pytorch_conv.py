#!/usr/bin/env python3
"""PyTorch side of the convolution benchmark (called by `cargo run --release -p rnn-bench --bin conv`).

Times the same configs as the Rust side, forward only (no grad) and forward + backward of
mean(output**2) (input, weights and biases tracked), each the median of `--reps` runs after
a warm-up.

Usage: pytorch_conv.py --threads 2 --reps 5 --configs conv,crnn,crnn_wide,convlstm
Prints one JSON object: {"torch": version, "results": {"conv": {"forward_ms": a, "train_ms": b}, ...}}.
"""
import argparse
import json
import statistics
import time

import torch
from torch import nn


def median_ms(fn, reps):
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def crnn_stack(widths):
    """conv 3x3 (padding 1) -> BatchNorm2d -> ReLU -> max-pool, per width: 2x2 pools for the
    first two, (2, 1) pools (width kept) after."""
    layers, c_in = [], 1
    for i, c in enumerate(widths):
        pool = (2, 2) if i < 2 else (2, 1)
        layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(pool)]
        c_in = c
    return nn.Sequential(*layers)


class ConvLSTM(nn.Module):
    """One ConvLSTM layer as the widely used PyTorch port writes it (ndrplz/ConvLSTM_pytorch):
    a conv over cat[x, h] split into i, f, o, g; input [N, L, C, H, W], output the h's."""

    def __init__(self, c_in, c_h, k):
        super().__init__()
        self.c_h = c_h
        self.conv = nn.Conv2d(c_in + c_h, 4 * c_h, k, padding=k // 2)

    def forward(self, x):
        n, steps, _, height, width = x.shape
        h = c = x.new_zeros(n, self.c_h, height, width)
        outs = []
        for t in range(steps):
            i, f, o, g = torch.split(self.conv(torch.cat([x[:, t], h], 1)), self.c_h, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outs.append(h)
        return torch.stack(outs, 1)


def config(name):
    """The module and the input shape of a config (the Rust side's `Config`)."""
    if name == "conv":
        return nn.Conv2d(32, 64, 3, padding=1), (32, 32, 16, 80)
    if name == "crnn":
        return crnn_stack([16, 32, 64, 64]), (32, 1, 32, 160)
    if name == "crnn_wide":
        return crnn_stack([32, 64, 128, 128]), (32, 1, 32, 160)
    if name == "convlstm":
        return ConvLSTM(16, 32, 3), (8, 10, 16, 64, 64)
    raise SystemExit(f"unknown config {name}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--configs", required=True)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    results = {}
    for name in args.configs.split(","):
        module, shape = config(name)
        x = torch.randn(*shape)

        def forward():
            # Inference, as the Rust side's forward (no autodiff: the running statistics).
            module.eval()
            with torch.no_grad():
                module(x)

        def train():
            module.train()
            xg = x.clone().requires_grad_(True)
            module.zero_grad(set_to_none=True)
            module(xg).pow(2).mean().backward()

        results[name] = {"forward_ms": median_ms(forward, args.reps), "train_ms": median_ms(train, args.reps)}
    print(json.dumps({"torch": torch.__version__, "results": results}))


if __name__ == "__main__":
    main()
