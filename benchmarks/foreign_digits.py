"""A foreign check set: digits as other writers make them, not as MNIST's were made.

    python benchmarks/foreign_digits.py make --out foreign/          # ~1,600 PNG files, seeded
    python benchmarks/foreign_digits.py score --out foreign/ --ckpt_path <checkpoint> [...]

Two sources, each drawn dark on light paper and "scanned" (a tilt, blur, paper grain, uneven
ink, JPEG), then read the way ``lstm-mnist predict`` reads a file:

- ``font``: digits typed in the installed fonts: handwriting fonts (Debian's fonts-bwht,
  fonts-breip, fonts-femkeklaver, fonts-dkg-handwriting, fonts-humor-sans, fonts-comic-neue,
  fonts-dancingscript) and print (DejaVu, Liberation, FreeFont, URW's Nimbus and Z003), each
  slanted, turned, thickened or thinned at random;
- ``drawn``: digits drawn the way a mouse draws them on the demo's pad: one template per digit
  (strokes as a person writes them, some in two variants, e.g. a 7 with a bar, a 1 with a flag),
  every point moved at random, thick steady strokes.

Nothing here is MNIST's, nor any public handwriting set: it is a stand-in for "someone else's
digits", used to compare recipes (results/robust.md), never to train.
"""

import argparse
import csv
import io
import math
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_FOLDERS = ("/usr/share/fonts/truetype", "/usr/share/fonts/opentype")
FONT_NAMES = (
    "BecauseWe", "Breip", "FemkeKlaver", "dkg-handwriting", "Humor-Sans", "ComicNeue-Regular",
    "DancingScript-Regular", "DejaVuSans.ttf", "DejaVuSerif.ttf", "LiberationMono-Regular",
    "LiberationSans-Regular", "LiberationSerif-Italic", "FreeSans.ttf", "FreeSerif.ttf",
    "NimbusSans-Regular", "NimbusRoman-Italic", "Z003-MediumItalic",
)  # fmt: skip
CANVAS = 280  # the demo pad's size
# Each digit's strokes in the unit square (x right, y down), as a hand moves the pen; each stroke
# a list of points (arcs as (cx, cy, rx, ry, from degrees, to degrees)).
TEMPLATES = {
    0: [[("arc", 0.5, 0.5, 0.28, 0.42, -90, 270)]],
    1: [[(0.5, 0.08), (0.5, 0.92)], [(0.32, 0.25), (0.5, 0.08), (0.5, 0.92)]],
    2: [[("arc", 0.5, 0.32, 0.27, 0.24, 200, 380), (0.75, 0.38), (0.22, 0.9), (0.8, 0.9)]],
    3: [[("arc", 0.48, 0.3, 0.26, 0.21, 210, 450), ("arc", 0.48, 0.7, 0.29, 0.22, 270, 500)]],
    4: [[(0.6, 0.08), (0.18, 0.65), (0.85, 0.65)], [(0.64, 0.35), (0.64, 0.92)]],
    5: [[(0.78, 0.1), (0.3, 0.1), (0.26, 0.45), ("arc", 0.5, 0.66, 0.28, 0.25, 220, 500)]],
    6: [[(0.68, 0.08), (0.38, 0.35), ("arc", 0.5, 0.68, 0.26, 0.23, 190, 550)]],
    7: [[(0.2, 0.1), (0.8, 0.1), (0.42, 0.92)], [(0.2, 0.1), (0.8, 0.1), (0.42, 0.92)]],
    8: [[("arc", 0.5, 0.28, 0.22, 0.19, 90, 450), ("arc", 0.5, 0.7, 0.27, 0.22, -90, 270)]],
    9: [[("arc", 0.48, 0.32, 0.24, 0.21, 0, 360), (0.72, 0.32), (0.66, 0.92)]],
}
EXTRA = {7: [[(0.35, 0.5), (0.68, 0.5)]]}  # the bar across a 7, for its second variant


def make(out: Path, per_font: int, drawn: int, seed: int) -> None:
    """Write the set's PNG files and ``labels.csv`` (file, digit, source)."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    fonts = _fonts()
    rows = []
    for digit in range(10):
        for font in fonts:
            for n in range(per_font):
                image = _scanned(_typed(digit, font, rng), rng)
                rows.append(_save(out, image, digit, f"font-{font.stem}", n))
        for n in range(drawn):
            image = _scanned(_drawn(digit, rng), rng)
            rows.append(_save(out, image, digit, "drawn", n))
    with (out / "labels.csv").open("w", newline="") as file:
        csv.writer(file).writerows([("file", "digit", "source"), *rows])
    print(f"wrote {len(rows)} digits ({len(fonts)} fonts, {drawn} drawn per digit) to {out}")


def _fonts() -> list[Path]:
    found = [p for folder in FONT_FOLDERS for p in Path(folder).rglob("*") if p.is_file()]
    return sorted(p for p in found if any(name in p.name for name in FONT_NAMES))


def _typed(digit: int, font_path: Path, rng: random.Random) -> Image.Image:
    """The digit typed in a font, big, on a canvas of a random aspect."""
    font = ImageFont.truetype(str(font_path), rng.randint(120, 180))
    image = Image.new("L", (CANVAS + rng.randint(-40, 80), CANVAS), 0)
    pen = ImageDraw.Draw(image)
    stroke = rng.choice([0, 0, 2, 4, 7])  # thicker strokes, as a felt pen or a bold hand
    box = pen.textbbox((0, 0), str(digit), font=font, stroke_width=stroke)
    x = (image.width - (box[2] - box[0])) / 2 - box[0] + rng.randint(-20, 20)
    y = (image.height - (box[3] - box[1])) / 2 - box[1] + rng.randint(-20, 20)
    pen.text((x, y), str(digit), fill=255, font=font, stroke_width=stroke, stroke_fill=255)
    slant = rng.uniform(-0.25, 0.25)  # a hand's slant: shear x by y
    image = image.transform(
        image.size, Image.Transform.AFFINE, (1, slant, -slant * CANVAS / 2, 0, 1, 0)
    )
    image = image.rotate(rng.uniform(-8, 8), resample=Image.Resampling.BILINEAR)
    if rng.random() < 0.25:  # thinned: a fine pen
        image = image.filter(ImageFilter.MinFilter(5))
    return image


def _drawn(digit: int, rng: random.Random) -> Image.Image:
    """The digit drawn with the mouse: its template's points moved at random, thick strokes."""
    variants = TEMPLATES[digit]
    variant = rng.randrange(len(variants))
    strokes = [variants[variant]] + (EXTRA.get(digit, []) if variant == 1 else [])
    if digit == 4:
        strokes = variants  # both strokes of a 4
    width, height = rng.uniform(0.5, 0.75), rng.uniform(0.7, 0.9)
    left, top = rng.uniform(0.05, 0.95 - width), rng.uniform(0.05, 0.95 - height)
    slant = rng.uniform(-0.2, 0.2)
    image = Image.new("L", (CANVAS, CANVAS), 0)
    pen = ImageDraw.Draw(image)
    line = rng.randint(12, 26)  # the pad's brush: steady, much thicker than MNIST's pen
    for stroke in strokes:
        points = []
        for part in stroke:  # the template moved a little, part by part: a hand never repeats
            for x, y in _points(_moved(part, rng)):
                x += slant * (0.5 - y)
                points.append(((left + x * width) * CANVAS, (top + y * height) * CANVAS))
        pen.line(points, fill=255, width=line, joint="curve")
        for x, y in (points[0], points[-1]):  # round ends, as a brush makes them
            pen.ellipse((x - line / 2, y - line / 2, x + line / 2, y + line / 2), fill=255)
    return image


def _moved(part, rng: random.Random):
    """A point moved by a few hundredths; an arc's centre, radii and ends likewise."""
    if part[0] != "arc":
        return (part[0] + rng.gauss(0, 0.03), part[1] + rng.gauss(0, 0.03))
    _, cx, cy, rx, ry, start, end = part
    wobble = [rng.gauss(0, 0.02) for _ in range(4)]
    return (
        "arc",
        cx + wobble[0],
        cy + wobble[1],
        rx * (1 + 4 * wobble[2]),
        ry * (1 + 4 * wobble[3]),
        start + rng.gauss(0, 12),
        end + rng.gauss(0, 12),
    )


def _points(part) -> list[tuple[float, float]]:
    if part[0] != "arc":
        return [part]
    _, cx, cy, rx, ry, start, end = part
    angles = np.radians(np.linspace(start, end, max(8, int(abs(end - start) / 10))))
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


def _scanned(ink: Image.Image, rng: random.Random) -> Image.Image:
    """Light ink (L) on black -> dark ink on paper, as a scanner or a phone would give it."""
    ink = ink.filter(ImageFilter.GaussianBlur(rng.uniform(0, 2.5)))
    array = np.asarray(ink, np.float32) / 255
    paper = rng.uniform(170, 250) + np.random.default_rng(rng.randrange(2**32)).normal(
        0, rng.uniform(0, 10), array.shape
    )
    darkness = rng.uniform(0.55, 1.0)  # a worn pen or pencil leaves grey, not black
    page = np.clip(paper * (1 - darkness * array), 0, 255).astype(np.uint8)
    image = Image.fromarray(page)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=rng.randint(40, 95))
    return Image.open(buffer).convert("L")


def _save(out: Path, image: Image.Image, digit: int, source: str, n: int) -> tuple:
    name = f"{digit}_{source}_{n}.png"
    image.save(out / name)
    return name, digit, source.split("-")[0]


def score(
    out: Path, ckpt_paths: list[str], names: list[str] | None, keep_paper: bool,
    markdown: Path | None,
) -> None:  # fmt: skip
    """Each checkpoint's accuracy on the set, overall and per source, through lstm_mnist's API.

    ``keep_paper``: prepare the images as before 2026-12-07, without taking the paper away.
    """
    from lstm_mnist import Classifier
    from lstm_mnist.core import images

    if keep_paper:  # the preparation of before: the paper's level and grain stay in
        images._without_paper = lambda ink: ink
    with (out / "labels.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    files = [str(out / row["file"]) for row in rows]
    sources = sorted({row["source"] for row in rows})
    lines = [
        "| checkpoint | all | " + " | ".join(sources) + " |",
        "|---" * (2 + len(sources)) + "|",
    ]
    for path, name in zip(ckpt_paths, names or [None] * len(ckpt_paths), strict=True):
        classifier = Classifier.pretrained() if path == "pretrained" else Classifier(path)
        classifier.name = name or classifier.name  # the table's row
        classes = classifier.predict(files).classes.tolist()
        right = np.array([c == int(row["digit"]) for c, row in zip(classes, rows, strict=True)])
        by_source = [right[[row["source"] == s for row in rows]].mean() for s in sources]
        parts = ", ".join(
            f"{s} {100 * acc:.1f}%" for s, acc in zip(sources, by_source, strict=True)
        )
        print(f"{classifier.name}: {100 * right.mean():.1f}% of {len(rows)} ({parts})")
        cells = " | ".join(f"{100 * acc:.1f}%" for acc in by_source)
        lines.append(f"| {classifier.name} | {100 * right.mean():.1f}% | {cells} |")
    if markdown:
        markdown.write_text("\n".join(lines) + "\n")


def main() -> None:
    """``make`` the set, or ``score`` checkpoints on it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["make", "score"])
    parser.add_argument("--out", type=Path, default=Path("foreign"))
    parser.add_argument("--per-font", type=int, default=6, help="digits per font and class")
    parser.add_argument("--drawn", type=int, default=40, help="drawn digits per class")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ckpt_path", nargs="+", default=["pretrained"])
    parser.add_argument("--name", nargs="+", help="each checkpoint's row name in the table")
    parser.add_argument("--keep-paper", action="store_true", help="the preparation of before")
    parser.add_argument("--markdown", type=Path, help="also write the scores as a Markdown table")
    args = parser.parse_args()
    if args.command == "make":
        make(args.out, args.per_font, args.drawn, args.seed)
    else:
        if args.name and len(args.name) != len(args.ckpt_path):
            count = f"{len(args.name)} --name for {len(args.ckpt_path)} --ckpt_path"
            parser.error(f"{count}: give one name per checkpoint")
        score(args.out, args.ckpt_path, args.name, args.keep_paper, args.markdown)


if __name__ == "__main__":
    main()
