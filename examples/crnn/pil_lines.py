#!/usr/bin/env python3
"""Text lines drawn by other software (PIL and FreeType), to measure the CRNN beyond its own
renderer.

    /work/venv/bin/python examples/crnn/pil_lines.py --out DIR [--count 1000] [--seed 1] \\
        [--font /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf] [--sizes 20-24]
    target/release/crnn eval --model runs/crnn --data DIR

Each line is a random text of 3 to 10 characters of the model's alphabet (0-9, a-z, A-Z),
drawn with `ImageFont.truetype` at a random whole size in --sizes pixels per em, black on
white, on a canvas 32 pixels high (the model's height, so `crnn` reads it unscaled) and as wide
as the text's ink plus a random margin of 4 to 8 pixels on each side. The font's line box
(ascent above the baseline, descent below it) is centred vertically, so the baseline stays put
whatever the letters. DIR gets 0000000.png, 0000001.png, ... (8-bit gray) and labels.tsv
(`file<TAB>text` lines), the folder `crnn eval --data` and `crnn train --data` read.

No augmentation: these are clean lines, but neither the rasterizer nor (with --font) the face
is the one training used. The default face, DejaVu Sans, is one of the four embedded in the
example; another TTF tells more.
"""

import argparse
import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
HEIGHT = 32  # the model's line height
CHARS = (3, 10)  # characters per line, as the rendered lines
MARGIN = (4, 8)  # pixels of paper left and right of the ink


def fail(message):
    sys.exit(f"pil_lines.py: error: {message}")


def sizes(text):
    """`A-B` (or `A`) as a range of whole font sizes."""
    parts = text.split("-")
    try:
        lo, hi = (int(parts[0]), int(parts[-1])) if len(parts) <= 2 else (0, -1)
    except ValueError:
        lo, hi = 0, -1
    if not 1 <= lo <= hi:
        raise argparse.ArgumentTypeError(f"expected sizes like 20-24 (pixels, 1 <= A <= B), "
                                         f"got {text!r}")
    return lo, hi


def line(font, text, rng):
    """`text` black on white, 32 pixels high, the font's line box centred."""
    ascent, descent = font.getmetrics()
    left, _, right, _ = font.getbbox(text, anchor="ls")
    margins = rng.randint(*MARGIN), rng.randint(*MARGIN)
    image = Image.new("L", (margins[0] + (right - left) + margins[1], HEIGHT), 255)
    baseline = round((HEIGHT - (ascent + descent)) / 2 + ascent)
    ImageDraw.Draw(image).text((margins[0] - left, baseline), text, fill=0, font=font,
                               anchor="ls")
    return image


def main():
    ap = argparse.ArgumentParser(
        description="Write random text lines drawn with PIL as a folder of PNGs and "
        "labels.tsv, for `crnn eval --data` and `crnn train --data`.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--out", required=True, type=Path,
                    help="the folder to write (created if missing; labels.tsv and the PNGs of "
                    "the same names are replaced)")
    ap.add_argument("--count", type=int, default=1000, help="lines to write")
    ap.add_argument("--seed", type=int, default=1, help="seed of the texts, sizes and margins")
    ap.add_argument("--font", type=Path,
                    default=Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
                    help="a TrueType or OpenType font file")
    ap.add_argument("--sizes", type=sizes, default="20-24", metavar="A-B",
                    help="font sizes drawn from, pixels per em (whole numbers, A to B "
                    "included)")
    args = ap.parse_args()
    if not 1 <= args.count <= 10_000_000:
        ap.error(f"--count must be in 1..=10000000, got {args.count}")
    try:
        fonts = {s: ImageFont.truetype(str(args.font), s)
                 for s in range(args.sizes[0], args.sizes[1] + 1)}
    except OSError as e:
        fail(f"--font {args.font}: cannot open it as a font ({e})")
    for s, font in fonts.items():
        ascent, descent = font.getmetrics()
        if ascent + descent > HEIGHT:
            fail(f"--sizes: at size {s} the line box of {args.font.name} is {ascent + descent} "
                 f"pixels high, more than the {HEIGHT} of a line; choose smaller sizes")
    if args.out.exists() and not args.out.is_dir():
        fail(f"--out {args.out}: exists and is not a folder")
    args.out.mkdir(parents=True, exist_ok=True)

    rng = random.Random(args.seed)
    labels = []
    for i in range(args.count):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(*CHARS)))
        name = f"{i:07}.png"
        line(fonts[rng.randint(*args.sizes)], text, rng).save(args.out / name)
        labels.append(f"{name}\t{text}\n")
    (args.out / "labels.tsv").write_text("".join(labels), encoding="utf-8")
    print(f"wrote {args.count} lines ({args.font.name}, sizes {args.sizes[0]}-{args.sizes[1]}) "
          f"to {args.out}")


if __name__ == "__main__":
    main()
