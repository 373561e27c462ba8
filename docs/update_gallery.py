"""Refresh the study gallery's figures in ``docs/_static/gallery/``.

    python docs/update_gallery.py [--run] [--out DIR] [--max-kb 250] [NAME ...]

For each study NAME (default: every study of ``plasticity study list``) take the figures
``fig_*.png`` that ``plasticity study run NAME --quick --out DIR/NAME`` wrote (``--run`` runs it
first), and store each as ``docs/_static/gallery/fig_*.png``, downscaled and palette-quantised
until it is at most ``--max-kb`` kilobytes. The gallery page (``docs/gallery/index.md``) names
the files; it is not changed here.
"""
from __future__ import annotations

import argparse
import io
import subprocess
import sys
from pathlib import Path

from PIL import Image

DOCS = Path(__file__).resolve().parent
GALLERY = DOCS / "_static" / "gallery"


def shrink(src: Path, dst: Path, max_bytes: int) -> int:
    """Write ``src`` to ``dst`` as a PNG of at most ``max_bytes`` (smaller widths until it fits)."""
    image = Image.open(src).convert("RGB")
    width = min(image.width, 2000)
    while True:
        height = round(image.height * width / image.width)
        small = image.resize((width, height), Image.LANCZOS) if width != image.width else image
        quantised = small.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        buffer = io.BytesIO()
        quantised.save(buffer, format="PNG", optimize=True)
        if buffer.tell() <= max_bytes or width <= 600:
            dst.write_bytes(buffer.getvalue())
            return buffer.tell()
        width = int(width * 0.85)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="NAME")
    parser.add_argument("--run", action="store_true", help="run each study with --quick first")
    parser.add_argument("--out", default="results/gallery", help="parent directory of the studies' outputs")
    parser.add_argument("--max-kb", type=float, default=250.0)
    args = parser.parse_args(argv)
    if args.names:
        names = args.names
    else:
        from plasticity.study_registry import find_studies

        names = list(find_studies())
    GALLERY.mkdir(parents=True, exist_ok=True)
    status = 0
    for name in names:
        out = Path(args.out) / name
        if args.run:
            done = subprocess.run(["plasticity", "study", "run", name, "--quick", "--out", str(out), "--no-progress"])
            if done.returncode != 0:
                print(f"{name}: the study failed (exit {done.returncode}); figures not updated", file=sys.stderr)
                status = 1
                continue
        figures = sorted(out.glob("fig_*.png"))
        if not figures:
            print(f"{name}: no fig_*.png in {out}", file=sys.stderr)
            status = 1
        for fig in figures:
            size = shrink(fig, GALLERY / fig.name, int(args.max_kb * 1024))
            print(f"{name}: {GALLERY / fig.name} ({size / 1024:.0f} KB)")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
