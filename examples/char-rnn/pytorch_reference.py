#!/usr/bin/env python3
"""PyTorch reference of char-rnn's recipe, for the quality and speed comparison in README.md.

Same data pipeline as the Rust example: sorted character vocabulary, 90/5/5 contiguous split,
`batch` contiguous streams read `seq_len` characters at a time with the LSTM state carried
(detached) between chunks and reset at each pass's end; Embedding(V, 128) -> 2-layer LSTM(128)
-> Linear(128, V); Adam(2e-3), gradient-norm clipping 5; validation = mean cross-entropy over
the validation split's chunks with the state carried.

    python3 examples/char-rnn/pytorch_reference.py --corpus ../shared/data/tinyshakespeare.txt \
        --steps 2000 --threads 2

`--device cuda` runs it on an NVIDIA GPU (cuDNN), synchronizing before each step's time is
read.
"""

import argparse
import math
import time

import torch


def streams(ids, batch, seq_len):
    row = len(ids) // batch
    rows = torch.tensor(ids[: row * batch]).view(batch, row)
    p = 0
    while p + seq_len + 1 <= row:
        yield rows[:, p : p + seq_len], rows[:, p + 1 : p + seq_len + 1]
        p += seq_len


class CharModel(torch.nn.Module):
    def __init__(self, vocab, embedding, hidden, layers):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, embedding)
        self.lstm = torch.nn.LSTM(embedding, hidden, num_layers=layers, batch_first=True)
        self.head = torch.nn.Linear(hidden, vocab)

    def forward(self, x, state):
        y, state = self.lstm(self.embedding(x), state)
        return self.head(y), state


def evaluate(model, ids, batch, seq_len, vocab):
    b = max(1, min(batch, len(ids) // (seq_len + 1)))
    total, n, state = 0.0, 0, None
    with torch.no_grad():
        for x, y in streams(ids, b, seq_len):
            device = next(model.parameters()).device
            x, y = x.to(device), y.to(device)
            logits, state = model(x, state)
            total += torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1)).item()
            n += 1
    return total / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seq-len", type=int, default=50)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--embedding", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--clip", type=float, default=5.0)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    text = open(args.corpus, encoding="utf-8").read()
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = [index[c] for c in text]
    n = len(ids)
    train, val = ids[: n * 90 // 100], ids[n * 90 // 100 : n * 95 // 100]
    vocab = len(chars)

    model = CharModel(vocab, args.embedding, args.hidden, args.layers).to(device)
    optim = torch.optim.Adam(model.parameters(), lr=args.lr)
    step, start, train_time = 0, time.perf_counter(), 0.0
    while step < args.steps:
        state = None
        for x, y in streams(train, args.batch, args.seq_len):
            x, y = x.to(device), y.to(device)
            sync()
            t0 = time.perf_counter()
            logits, state = model(x, state)
            state = tuple(s.detach() for s in state)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
            optim.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optim.step()
            sync()
            train_time += time.perf_counter() - t0
            step += 1
            if step % args.eval_every == 0 or step == args.steps:
                v = evaluate(model, val, args.batch, args.seq_len, vocab)
                print(f"step {step:>6}  train {loss.item():.4f}  validation {v:.4f} nats/char "
                      f"({v / math.log(2):.3f} bpc)", flush=True)
            if step == args.steps:
                break
    where = torch.cuda.get_device_name() if device.type == "cuda" else f"{args.threads} threads"
    print(f"pytorch {torch.__version__}, {where}: {args.steps} steps, "
          f"{1000 * train_time / args.steps:.1f} ms/step (training only), "
          f"{time.perf_counter() - start:.0f} s in all")


if __name__ == "__main__":
    main()
