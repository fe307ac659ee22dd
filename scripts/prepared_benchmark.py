"""Limits of training from prepared datasets (README "Datasets larger than memory").

    nice -n 10 python scripts/prepared_benchmark.py throughput --root /tmp/gantrain_bench
    nice -n 10 python scripts/prepared_benchmark.py rss --root /tmp/gantrain_bench

`throughput`: a prepared dataset of synthetic 256x256x3 images on disk; the input pipeline
alone (dataset=prepared's reader and gantrain's train_dataset: index permutation, parallel
reads, uint8 -> float32 [-1, 1], prefetch) in images/s, then `gantrain train` of a 256x256
DCGAN-like config fed by it (median images/s of its logged steps), and their ratio.

`rss`: peak RSS (ru_maxrss of the `gantrain train` child process) of the same short training
run on a prepared dataset of 1,000 images and on one of a few GB, both 64x64x3.

Synthetic datasets are written straight into the prepared format (random pixels, no PNG
round trip) under --root, which is deleted afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from gantrain.data.prepared import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    WRITER_OPTIONS,
    file_sha256,
    shard_name,
)

REPO = Path(__file__).resolve().parents[1]
DCGAN_256 = [
    "generator.widths=[512,256,128,64,32,16]",
    "discriminator.widths=[32,64,128,256]",
]


def synthetic_prepared(root: Path, count: int, resolution: int, per_shard: int = 4096) -> Path:
    """A prepared dataset of `count` random images (unlabeled), written shard by shard."""
    from array_record.python.array_record_module import ArrayRecordWriter

    if (root / MANIFEST).is_file():
        return root
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    shape = (resolution, resolution, 3)
    num_shards = -(-count // per_shard)
    shards = []
    for shard in range(num_shards):
        n = min(per_shard, count - shard * per_shard)
        name = shard_name(shard, num_shards)
        writer = ArrayRecordWriter(str(root / name), WRITER_OPTIONS)
        for start in range(0, n, 256):
            block = rng.integers(0, 256, (min(256, n - start), *shape), dtype=np.uint8)
            for image in block:
                writer.write(image.tobytes())
        writer.close()
        path = root / name
        shards.append(
            {"file": name, "count": n, "bytes": path.stat().st_size, "sha256": file_sha256(path)}
        )
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "count": count,
        "shape": list(shape),
        "labeled": False,
        "label_names": [],
        "source": {"path": "synthetic (scripts/prepared_benchmark.py)"},
        "command": " ".join(sys.argv),
        "shards": shards,
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return root


def pipeline_rate(path: Path, batch: int, batches: int) -> float:
    from gantrain.data.pipeline import train_dataset
    from gantrain.data.prepared import PreparedSource

    reader = PreparedSource(path=str(path), verify="size").examples()
    iterator = iter(train_dataset(reader, batch_size=batch, seed=0))
    for _ in range(5):  # warm up: tracing, thread pools, prefetch buffer
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)["image"].numpy()
    return batches * batch / (time.perf_counter() - start)


def train(path: Path, run_dir: Path, steps: int, batch: int, extra: list[str]) -> tuple[float, int]:
    """(median logged images/s, peak RSS in MB) of `gantrain train` on the prepared `path`."""
    if run_dir.exists():
        shutil.rmtree(run_dir)
    command = [
        sys.executable, "-m", "gantrain", "train", "dataset=prepared",
        f"dataset.path={path}", f"trainer.max_steps={steps}", f"trainer.batch_size={batch}",
        "trainer.log_every=5", f"trainer.sample_every={steps}", f"trainer.checkpoint_every={steps}",
        "logging.progress_bar=false", f"hydra.run.dir={run_dir}", *extra,
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"training failed ({status}); see {run_dir}/train.log")
    records = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    rates = [r["images_per_sec"] for r in records[1:] if "images_per_sec" in r]  # skip warm-up
    return statistics.median(rates), usage.ru_maxrss // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("throughput", "rss"))
    parser.add_argument("--root", type=Path, default=Path("/tmp/gantrain_bench"))
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--big-gb", type=float, default=3.0)
    args = parser.parse_args()
    try:
        if args.what == "throughput":
            data = synthetic_prepared(args.root / "ds256", 2048, 256)
            rate = pipeline_rate(data, batch=32, batches=60)
            step_rate, _ = train(data, args.root / "run256", 30, 32, DCGAN_256)
            print(f"input pipeline alone, 256x256x3, batch 32: {rate:.0f} images/s")
            print(f"train step, DCGAN-like 256x256 (G {DCGAN_256[0]}, D {DCGAN_256[1]}): "
                  f"{step_rate:.1f} images/s")  # fmt: skip
            print(f"ratio pipeline / train step: {rate / step_rate:.0f}x")
        else:
            record = 64 * 64 * 3
            big_count = int(args.big_gb * 1e9 // record)
            small = synthetic_prepared(args.root / "small", 1000, 64)
            big = synthetic_prepared(args.root / "big", big_count, 64)
            size = sum(p.stat().st_size for p in big.iterdir()) / 1e9
            results = {}
            for name, path in (("1,000 images", small), (f"{big_count:,} images", big)):
                results[name] = train(path, args.root / f"run_{path.name}", 200, 32, [])
            for name, (rate, rss) in results.items():
                print(f"{name}: peak RSS {rss} MB, {rate:.0f} images/s")
            print(f"big dataset on disk: {size:.2f} GB")
    finally:
        if not args.keep:
            shutil.rmtree(args.root, ignore_errors=True)


if __name__ == "__main__":
    main()
