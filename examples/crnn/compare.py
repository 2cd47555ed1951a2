#!/usr/bin/env python3
"""The CRNN example's model, data and recipe in PyTorch, trained side by side with ours.

    /work/venv/bin/python examples/crnn/compare.py --crnn target/release/crnn \\
        [--steps 2000] [--eval-every 500] [--threads 2] [--work /tmp/crnn-compare] \\
        [--rounds K [--round-steps 100]] [--time-only]

1. Writes the data with our binary: `crnn render --out WORK/train --steps S --batch 32
   --seed 42` (the batches `crnn train --seed 42` trains on, in order: batch i is lines
   32i..32i+31 of labels.tsv) and `crnn render --held-out --out WORK/held_out` (the 1000
   held-out lines every run is measured on).
2. Trains the same model in PyTorch on those batches, in that order, with the recipe of
   `src/train.rs`, and evaluates it on the held-out lines every --eval-every steps and at the
   end: the character error rate (best-path decoding, summed edit distances over summed truth
   lengths) and the share of lines read exactly, with BatchNorm's running statistics.
3. Runs ours: `crnn train --out WORK/ours --steps S --eval-every E --checkpoint-every S
   --force --quiet` with BURN_RNN_NUM_THREADS (and RAYON_NUM_THREADS) set to --threads, and
   reads WORK/ours/metrics.json.
4. Prints a Markdown table (one row per evaluation: CER and exact lines of each), the
   milliseconds per training step of each and their ratio, and writes WORK/compare.json.
5. With --rounds K: K interleaved timing rounds, each `crnn train --data WORK/train` for
   --round-steps steps and then PyTorch for as many on the same lines, and a table of each
   round's ms/step with the medians (one run of each side is not a measurement on a noisy
   machine). --time-only skips steps 2-4.

The model (`src/model.rs`): four blocks of Conv2d(c_in, c, 3, padding=1) -> BatchNorm2d(c)
(eps 1e-5, momentum 0.1) -> ReLU -> MaxPool2d, c = 16, 32, 64, 64, pooling 2x2, 2x2, 2x1, 2x1
(kernel = stride); the `[N, 64, 2, W/4]` feature map read column by column as
`[T = W/4, N, 64 * 2]` (channel-major: feature c * 2 + h); a 2-layer bidirectional
LSTM(128, 128), time-major; Linear(256, 63); log-softmax; CTCLoss(blank=0, reduction='mean',
zero_infinity=True); the linear shortcut of model.rs, Linear(128, 63) of the columns added
to the head's scores. Class 0 is the blank, class i + 1 the i-th character of ALPHABET.

The recipe (`src/train.rs`): batches of 32, Adam (betas 0.9, 0.999, eps 1e-8), a learning rate
rising linearly over 200 steps to 2e-3 and then falling on a cosine to 2e-4 at --steps, the
gradients clipped to norm 5, torch.manual_seed(42), torch.set_num_threads(--threads).

What differs, by construction:
- The pixels. Ours trains on the f32 lines as rendered; PyTorch reads the 8-bit PNGs of the
  same lines (`crnn render` quantizes to 0..255). Both standardize each line as
  `Gray::standardized` does: (x - mean) / (std + 1e-3), population std over the line's pixels.
  The held-out lines, too, are f32 for ours and 8-bit for PyTorch.
- The initial weights. Each side draws from its own generator with its own defaults (Burn's
  and PyTorch's; for these layers both are uniform with bound 1/sqrt(fan_in) for the
  convolutions and the linear layer and 1/sqrt(H) for the LSTM, but not the same numbers), so
  the two runs are two seeds of one recipe, not the same computation.
- The clipping. Burn's `GradientClipping::Norm(5)` clips each parameter tensor's gradient to
  norm 5 on its own (burn-optim 0.21, `OptimizerAdaptor::step`), so PyTorch does the same by
  default; --global-clip clips the norm of all gradients together
  (`torch.nn.utils.clip_grad_norm_`) instead.
- The allocator. Both sides run with glibc keeping freed memory (ours sets it with mallopt,
  this script re-executes itself with GLIBC_TUNABLES): without it every step's big tensors
  come back as fresh pages on both sides.
- The timing. PyTorch's ms/step counts the training step only (forward, loss, backward,
  clipping, Adam), not reading or standardizing the batch. Ours is `metrics.json`'s
  ms_per_step, which also counts drawing each batch from the fonts and making its tensors;
  an upper bound of the drawing's share (drawing and writing the PNGs, timed from `crnn
  render`) is printed beside it.
"""

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
CLASSES = len(ALPHABET) + 1  # class 0: CTC's blank
HEIGHT, WIDTH = 32, 128  # every rendered line
WIDTHS = (16, 32, 64, 64)
HIDDEN, LAYERS = 128, 2
# train.rs's defaults.
LR, WARMUP, CLIP, ADAM_EPS = 2e-3, 200, 5.0, 1e-8
EVAL_CHUNK = 64  # lines per inference batch, as predict.rs


def fail(message):
    sys.exit(f"compare.py: error: {message}")


def run(cmd, env=None):
    """Runs `cmd`; returns its stdout and wall seconds. A failure stops the script with its
    output."""
    started = time.perf_counter()
    try:
        p = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True)
    except OSError as e:
        fail(f"cannot run {cmd[0]}: {e}")
    seconds = time.perf_counter() - started
    if p.returncode != 0:
        fail(f"`{' '.join(map(str, cmd))}` exited with {p.returncode}:\n{p.stderr.strip()}")
    return p.stdout, seconds


def clear(folder):
    """Removes a folder this script wrote before (it holds labels.tsv); refuses any other."""
    if folder.exists():
        if not (folder / "labels.tsv").is_file():
            fail(f"{folder} exists and is not a folder of rendered lines (no labels.tsv); "
                 f"choose another --work")
        shutil.rmtree(folder)


def load_lines(folder, expected=None):
    """The lines of a rendered folder as uint8 `[N, HEIGHT, WIDTH]` and their texts, in
    labels.tsv order; `expected` lines if given, else at least one."""
    labels = folder / "labels.tsv"
    rows = [l.split("\t", 1) for l in labels.read_text(encoding="utf-8").splitlines() if l]
    if expected is not None and len(rows) != expected:
        fail(f"{labels}: expected {expected} lines, got {len(rows)}")
    if not rows:
        fail(f"{labels}: expected at least 1 line, got 0")
    pixels = np.empty((len(rows), HEIGHT, WIDTH), dtype=np.uint8)
    texts = []
    for i, row in enumerate(rows):
        if len(row) != 2 or not row[1]:
            fail(f"{labels} line {i + 1}: expected `file<TAB>text`, got {row!r}")
        with Image.open(folder / row[0]) as im:
            a = np.asarray(im.convert("L"))
        if a.shape != (HEIGHT, WIDTH):
            fail(f"{folder / row[0]}: expected {WIDTH}x{HEIGHT} pixels, got "
                 f"{a.shape[1]}x{a.shape[0]}")
        bad = [c for c in row[1] if c not in ALPHABET]
        if bad:
            fail(f"{labels} line {i + 1}: {bad[0]!r} is not in the alphabet")
        pixels[i] = a
        texts.append(row[1])
    return pixels, texts


def standardized(u8):
    """`Gray::standardized` of each line: uint8 `[N, H, W]` -> float32 `[N, 1, H, W]`,
    (x - mean) / (std + 1e-3) with x in [0, 1] and the population std of each line."""
    x = torch.from_numpy(u8).float().div_(255.0)
    mean = x.mean(dim=(1, 2), keepdim=True)
    std = (x - mean).pow(2).mean(dim=(1, 2), keepdim=True).sqrt()
    return ((x - mean) / (std + 1e-3)).unsqueeze(1)


def encode(texts):
    """CTC targets: `[N, S]` classes padded with 0, and the lengths `[N]`."""
    classes = [[ALPHABET.index(c) + 1 for c in t] for t in texts]
    longest = max(len(c) for c in classes)
    targets = torch.zeros(len(texts), longest, dtype=torch.long)
    for i, c in enumerate(classes):
        targets[i, : len(c)] = torch.tensor(c)
    return targets, torch.tensor([len(c) for c in classes], dtype=torch.long)


class Crnn(torch.nn.Module):
    """model.rs's `Crnn`: convolutions -> columns -> bidirectional LSTM -> linear ->
    log-softmax."""

    def __init__(self):
        super().__init__()
        blocks, c_in = [], 1
        for i, c in enumerate(WIDTHS):
            pool = (2, 2) if i < 2 else (2, 1)
            blocks += [
                torch.nn.Conv2d(c_in, c, 3, padding=1),
                torch.nn.BatchNorm2d(c, eps=1e-5, momentum=0.1),
                torch.nn.ReLU(),
                torch.nn.MaxPool2d(pool, stride=pool),
            ]
            c_in = c
        self.convs = torch.nn.Sequential(*blocks)
        features = c_in * (HEIGHT >> len(WIDTHS))
        self.rnn = torch.nn.LSTM(features, HIDDEN, num_layers=LAYERS, bidirectional=True)
        self.head = torch.nn.Linear(2 * HIDDEN, CLASSES)
        # model.rs's shortcut: the columns' features straight to the class scores.
        self.shortcut = torch.nn.Linear(features, CLASSES)

    def forward(self, images):
        """`images [N, 1, HEIGHT, W]` -> log-probabilities `[T = W / 4, N, CLASSES]`."""
        x = self.convs(images)
        n, c, h, t = x.shape
        columns = x.permute(3, 0, 1, 2).reshape(t, n, c * h)
        out, _ = self.rnn(columns)
        return torch.log_softmax(self.head(out) + self.shortcut(columns), dim=2)


def learning_rate(step, total):
    """train.rs's `learning_rate` of the 0-based `step`."""
    if step < WARMUP:
        return LR * (step + 1) / WARMUP
    done = min((step - WARMUP) / max(total - WARMUP, 1), 1.0)
    return LR * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * done)))


def clip_each(params, max_norm):
    """Burn's `GradientClipping::Norm`: each tensor's gradient scaled to norm at most
    `max_norm` on its own."""
    tiny = torch.finfo(torch.float32).tiny
    for p in params:
        if p.grad is not None:
            p.grad.mul_((max_norm / (p.grad.norm() + tiny)).clamp(max=1.0))


def greedy(log_probs):
    """Best path of `[T, N, C]` log-probabilities: each line's text."""
    best = log_probs.argmax(dim=2).t().tolist()
    out = []
    for row in best:
        chars, prev = [], 0
        for c in row:
            if c != 0 and c != prev:
                chars.append(ALPHABET[c - 1])
            prev = c
        out.append("".join(chars))
    return out


def edit_distance(a, b):
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a):
        diag, row[0] = row[0], i + 1
        for j, cb in enumerate(b):
            up = row[j + 1]
            row[j + 1] = min(diag + (ca != cb), up + 1, row[j] + 1)
            diag = up
    return row[len(b)]


def evaluate(model, images, texts):
    """CER and exact-line accuracy on the held-out lines (eval mode)."""
    model.eval()
    predicted = []
    with torch.no_grad():
        for at in range(0, len(texts), EVAL_CHUNK):
            predicted += greedy(model(images[at : at + EVAL_CHUNK]))
    model.train()
    errors = sum(edit_distance(p, t) for p, t in zip(predicted, texts))
    chars = sum(len(t) for t in texts)
    exact = sum(p == t for p, t in zip(predicted, texts))
    return errors / max(chars, 1), exact / max(len(texts), 1)


def train_pytorch(args, train_u8, train_texts, held_images, held_texts, steps=None):
    """Trains the PyTorch model for `steps` (default --steps); returns its evaluations and
    training seconds. Without held-out lines (`held_images` None) it only trains."""
    steps = args.steps if steps is None else steps
    torch.manual_seed(args.seed)
    model = Crnn()
    optim = torch.optim.Adam(model.parameters(), lr=LR, eps=ADAM_EPS)
    ctc = torch.nn.CTCLoss(blank=0, reduction="mean", zero_infinity=True)
    params = list(model.parameters())
    evals, seconds = [], 0.0
    for step in range(steps):
        lines = slice(step * args.batch, (step + 1) * args.batch)
        images = standardized(train_u8[lines])
        targets, target_lengths = encode(train_texts[lines])
        input_lengths = torch.full((args.batch,), WIDTH // 4, dtype=torch.long)
        for group in optim.param_groups:
            group["lr"] = learning_rate(step, steps)
        started = time.perf_counter()
        loss = ctc(model(images), targets, input_lengths, target_lengths)
        value = loss.item()
        if not math.isfinite(value):
            fail(f"PyTorch's training loss became {value} at step {step + 1}")
        optim.zero_grad()
        loss.backward()
        if args.global_clip:
            torch.nn.utils.clip_grad_norm_(params, CLIP)
        else:
            clip_each(params, CLIP)
        optim.step()
        seconds += time.perf_counter() - started
        done = step + 1
        if held_images is not None and (done % args.eval_every == 0 or done == steps):
            cer, accuracy = evaluate(model, held_images, held_texts)
            evals.append({"step": done, "cer": cer, "accuracy": accuracy, "seconds": seconds})
            print(f"pytorch step {done:>6}  loss {value:.4f}  held-out CER {100 * cer:.2f}%  "
                  f"lines exact {100 * accuracy:.1f}%  ({seconds:.0f} s of training)",
                  file=sys.stderr, flush=True)
    return evals, seconds


def timing_rounds(args, crnn, env, work, train_u8, train_texts):
    """--rounds interleaved rounds of --round-steps training steps, ours then PyTorch, on the
    same rendered lines (ours reads them with `--data`); returns each side's ms/step per
    round."""
    ours, pytorch = [], []
    data_dir, run_dir = work / "train", work / "ours_timing"
    for k in range(args.rounds):
        print(f"timing round {k + 1}/{args.rounds} ...", file=sys.stderr, flush=True)
        run([crnn, "train", "--data", data_dir, "--out", run_dir, "--steps", args.round_steps,
             "--eval-every", args.round_steps, "--checkpoint-every", args.round_steps,
             "--batch", args.batch, "--seed", args.seed, "--force", "--quiet"], env=env)
        try:
            metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
            ours.append(float(metrics["ms_per_step"]))
        except (OSError, ValueError, KeyError, TypeError) as e:
            fail(f"cannot read {run_dir / 'metrics.json'}: {e}")
        _, seconds = train_pytorch(args, train_u8, train_texts, None, None, args.round_steps)
        pytorch.append(1e3 * seconds / args.round_steps)
    shutil.rmtree(run_dir, ignore_errors=True)
    return ours, pytorch


def median(values):
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else 0.5 * (values[mid - 1] + values[mid])


def cpu_model():
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def percent(x):
    return "-" if x is None else f"{100 * x:.2f}%"


# The allocator policy of our examples (rnn_example_common::keep_freed_memory): glibc keeps
# freed memory instead of unmapping it. PyTorch runs under the same policy (it measured
# 77-84 ms/step with it, 104-108 without, on the same machine), so this script re-executes
# itself with it.
KEEP_FREED = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=2147483647"


def main():
    if sys.platform.startswith("linux") and os.environ.get("GLIBC_TUNABLES") != KEEP_FREED:
        env = dict(os.environ, GLIBC_TUNABLES=KEEP_FREED)
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    ap = argparse.ArgumentParser(
        description="Train the CRNN example's model in PyTorch on the same rendered batches "
        "as `crnn train`, then run ours, and compare held-out CER, exact lines and ms/step.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--crnn", required=True, type=Path,
                    help="our binary, e.g. target/release/crnn (built with --release)")
    ap.add_argument("--steps", type=int, default=2000, help="optimizer steps of each run")
    ap.add_argument("--eval-every", type=int, default=500,
                    help="evaluate on the held-out lines every this many steps (and at the end)")
    ap.add_argument("--threads", type=int, default=2,
                    help="CPU threads of each side (torch.set_num_threads; BURN_RNN_NUM_THREADS "
                    "and RAYON_NUM_THREADS for ours)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/crnn-compare"),
                    help="folder for the rendered lines, our run and compare.json")
    ap.add_argument("--batch", type=int, default=32, help="lines per batch (both sides)")
    ap.add_argument("--seed", type=int, default=42,
                    help="seed of the training lines (both sides), of our initialization "
                    "and of torch.manual_seed")
    ap.add_argument("--global-clip", action="store_true",
                    help="clip the norm of all gradients together (clip_grad_norm_); by "
                    "default each tensor's gradient is clipped on its own, as Burn's "
                    "GradientClipping::Norm does")
    ap.add_argument("--rounds", type=int, default=0,
                    help="after the comparison, this many interleaved timing rounds (ours, "
                    "PyTorch, ours, ...) of --round-steps steps each on the same lines; "
                    "prints the median ms/step of each side and the median of the rounds' "
                    "ratios")
    ap.add_argument("--round-steps", type=int, default=100,
                    help="training steps per timing round (each side)")
    ap.add_argument("--time-only", action="store_true",
                    help="skip the CER comparison: only render --round-steps batches and run "
                    "the timing rounds (--rounds, at least 1)")
    args = ap.parse_args()
    if args.time_only:
        args.steps = args.round_steps
        args.rounds = max(args.rounds, 1)
    for flag in ("steps", "eval_every", "threads", "batch", "round_steps"):
        if getattr(args, flag) < 1:
            ap.error(f"--{flag.replace('_', '-')} must be at least 1, got {getattr(args, flag)}")
    if args.rounds < 0:
        ap.error(f"--rounds must be at least 0, got {args.rounds}")
    if args.round_steps > args.steps:
        ap.error(f"--round-steps must be at most --steps ({args.steps}), got "
                 f"{args.round_steps}: the rounds train on the rendered batches")
    if args.steps * args.batch > 10_000_000:
        ap.error(f"--steps times --batch must be at most 10000000, got "
                 f"{args.steps * args.batch}")
    crnn = args.crnn.resolve()
    if not (crnn.is_file() and os.access(crnn, os.X_OK)):
        fail(f"--crnn {args.crnn}: not an executable file; build it with "
             f"`cargo build --release -p crnn`")
    torch.set_num_threads(args.threads)
    work = args.work
    work.mkdir(parents=True, exist_ok=True)

    # 1. The data, from our renderer.
    train_dir, held_dir = work / "train", work / "held_out"
    clear(train_dir)
    clear(held_dir)
    print(f"rendering {args.steps} batches of {args.batch} lines and the held-out lines into "
          f"{work} ...", file=sys.stderr, flush=True)
    run([crnn, "render", "--held-out", "--out", held_dir])
    _, train_s = run([crnn, "render", "--out", train_dir, "--steps", args.steps,
                      "--batch", args.batch, "--seed", args.seed])
    # Every `render` first draws the held-out set (training lines avoid its texts); a run of
    # one line measures that, and the difference is drawing and writing the training lines:
    # an upper bound of the drawing inside ours' ms/step.
    one_dir = work / "one_line"
    clear(one_dir)
    _, one_s = run([crnn, "render", "--out", one_dir, "--steps", 1, "--batch", 1,
                    "--seed", args.seed])
    shutil.rmtree(one_dir)
    render_ms = 1e3 * max(train_s - one_s, 0.0) / args.steps
    train_u8, train_texts = load_lines(train_dir, args.steps * args.batch)
    held_u8, held_texts = load_lines(held_dir)
    held_images = standardized(held_u8)
    env = dict(os.environ, BURN_RNN_NUM_THREADS=str(args.threads),
               RAYON_NUM_THREADS=str(args.threads))
    cpu = cpu_model()
    result = {
        "batch": args.batch, "seed": args.seed, "threads": args.threads, "cpu": cpu,
        "torch": torch.__version__, "global_clip": args.global_clip,
    }
    if not args.time_only:
        result.update(compare_training(args, crnn, env, work, train_u8, train_texts,
                                       held_images, held_texts, render_ms))
    if args.rounds > 0:
        ours, pytorch = timing_rounds(args, crnn, env, work, train_u8, train_texts)
        ratios = [p / o for o, p in zip(ours, pytorch)]
        print(f"\ntiming: {args.rounds} interleaved rounds of {args.round_steps} steps, "
              f"{args.threads} thread(s), {cpu}, the same lines on both sides (ours with "
              f"--data: no drawing)")
        print("| | ours ms/step | PyTorch ms/step | PyTorch / ours |")
        print("| --- | ---: | ---: | ---: |")
        for k, (o, p) in enumerate(zip(ours, pytorch)):
            print(f"| round {k + 1} | {o:.1f} | {p:.1f} | {p / o:.2f}x |")
        print(f"| **median** | **{median(ours):.1f}** | **{median(pytorch):.1f}** | "
              f"**{median(ratios):.2f}x** |")
        result["timing"] = {
            "round_steps": args.round_steps, "ours_ms": ours, "pytorch_ms": pytorch,
            "median_ours_ms": median(ours), "median_pytorch_ms": median(pytorch),
            "median_ratio_pytorch_over_ours": median(ratios),
        }
    (work / "compare.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {work / 'compare.json'}")


def compare_training(args, crnn, env, work, train_u8, train_texts, held_images, held_texts,
                     render_ms):
    """Trains both sides for --steps with evaluations; prints the table, returns its rows."""
    # 2. PyTorch.
    torch_evals, torch_s = train_pytorch(args, train_u8, train_texts, held_images, held_texts)
    torch_ms = 1e3 * torch_s / args.steps

    # 3. Ours.
    ours_dir = work / "ours"
    print(f"training ours ({crnn} train --out {ours_dir}) ...", file=sys.stderr, flush=True)
    run([crnn, "train", "--out", ours_dir, "--steps", args.steps, "--eval-every",
         args.eval_every, "--checkpoint-every", args.steps, "--batch", args.batch, "--seed",
         args.seed, "--force", "--quiet"], env=env)
    try:
        ours = json.loads((ours_dir / "metrics.json").read_text(encoding="utf-8"))
        ours_evals, ours_ms = ours["evals"], float(ours["ms_per_step"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        fail(f"cannot read {ours_dir / 'metrics.json'}: {e}")

    # 4. The comparison.
    by_step = {}
    for side, evals in (("ours", ours_evals), ("pytorch", torch_evals)):
        for e in evals:
            by_step.setdefault(int(e["step"]), {})[side] = e
    rows = []
    for step in sorted(by_step):
        o, p = by_step[step].get("ours"), by_step[step].get("pytorch")
        rows.append({
            "step": step,
            "cer_ours": o and o["cer"], "cer_pytorch": p and p["cer"],
            "exact_ours": o and o["accuracy"], "exact_pytorch": p and p["accuracy"],
        })
    ratio = torch_ms / ours_ms if ours_ms > 0 else float("nan")
    clip = "global norm" if args.global_clip else "per-tensor norm, as Burn"
    print(f"\n{args.steps} steps of {args.batch} lines, {len(held_texts)} held-out lines, "
          f"best-path decoding; PyTorch {torch.__version__}, gradient clipping: {clip}\n")
    print("| step | CER ours | CER PyTorch | exact ours | exact PyTorch |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['step']} | {percent(r['cer_ours'])} | {percent(r['cer_pytorch'])} | "
              f"{percent(r['exact_ours'])} | {percent(r['exact_pytorch'])} |")
    print(f"\ntime per training step, {args.threads} thread(s): ours {ours_ms:.1f} ms "
          f"(drawing the batch included: at most {render_ms:.1f} ms), PyTorch {torch_ms:.1f} ms; "
          f"PyTorch / ours = {ratio:.2f}x (one run each; --rounds measures the step)")
    return {
        "steps": args.steps, "eval_every": args.eval_every, "held_out": len(held_texts),
        "rows": rows, "ms_per_step": {"ours": ours_ms, "pytorch": torch_ms},
        "ours_render_ms_per_step": render_ms, "ratio_pytorch_over_ours": ratio,
    }


if __name__ == "__main__":
    main()
