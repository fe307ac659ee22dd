"""Write a class-balanced subset of CIFAR-10's train split as an image folder.

    python scripts/cifar10_subset.py ../shared/datasets/cifar10-jpeg.zip OUT_DIR --per-class 200

OUT_DIR/<class>/NNNN.jpg gets the first `--per-class` images of each class (in the archive's
sorted order, so the subset is the same on every run): the 2,000-image limited-data set of
the StyleGAN2-ADA run in the README (`dataset=image_folder dataset.path=OUT_DIR`). The JPEG
bytes are copied as they are, not re-encoded.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from collections import defaultdict
from pathlib import Path, PurePosixPath


def subset_members(names: list[str], per_class: int) -> dict[str, list[str]]:
    """The first `per_class` train/<class>/*.jpg names of each class, sorted by name."""
    by_class: dict[str, list[str]] = defaultdict(list)
    for name in sorted(names):
        parts = PurePosixPath(name).parts
        if len(parts) == 3 and parts[0] == "train" and parts[2].lower().endswith(".jpg"):
            by_class[parts[1]].append(name)
    short = {c: len(v) for c, v in by_class.items() if len(v) < per_class}
    if not by_class or short:
        raise SystemExit(
            f"cifar10_subset: the archive has {dict(short) or 'no train/<class>/*.jpg'} "
            f"images where {per_class} per class are asked; give the shared cifar10-jpeg.zip"
        )
    return {c: v[:per_class] for c, v in sorted(by_class.items())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archive", type=Path, help="cifar10-jpeg.zip (train/<class>/N.jpg)")
    parser.add_argument("output", type=Path, help="folder to write (must not exist)")
    parser.add_argument("--per-class", type=int, default=200)
    args = parser.parse_args(argv)
    if args.per_class < 1:
        raise SystemExit("cifar10_subset: --per-class must be at least 1")
    if args.output.exists():
        raise SystemExit(f"cifar10_subset: {args.output} exists; give a new folder")
    try:
        archive = zipfile.ZipFile(args.archive)
    except (OSError, zipfile.BadZipFile) as error:
        raise SystemExit(f"cifar10_subset: {args.archive}: not a readable zip ({error})") from None
    with archive:
        members = subset_members(archive.namelist(), args.per_class)
        for label, names in members.items():
            folder = args.output / label
            folder.mkdir(parents=True)
            for name in names:
                (folder / PurePosixPath(name).name).write_bytes(archive.read(name))
    total = sum(len(v) for v in members.values())
    print(f"cifar10_subset: wrote {total} images in {len(members)} classes to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
