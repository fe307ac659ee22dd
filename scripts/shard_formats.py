"""Which shard format for prepared datasets: random access by index through tf.data.

The training pipeline reads examples in a permutation fixed by (seed, step) (see
gantrain/data/pipeline.py), so the format must read example i without reading the ones
before it. This writes the same synthetic images in each candidate format and reads batches
of a random permutation through tf.data (parallel map, prefetch), decoding to float32
[-1, 1] as training does. Files are small enough to sit in the page cache: this measures the
format and decode cost, not the disk.

    nice -n 10 python scripts/shard_formats.py --num 2000 --resolution 256

Candidates: ArrayRecord (what TFDS's random-access `data_source` and grain read) with raw
uint8 or PNG records; plain binary shards of fixed-size uint8 records read with os.pread;
TFRecord (TFDS's default prepared format), which has no index: it is read sequentially
here as the upper bound of what it offers, random access would need a scan.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image


def synthetic(num: int, res: int, seed: int = 0) -> np.ndarray:
    """Smooth colour gradients plus mild noise: compresses like photos, not like pure noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:res, 0:res].astype(np.float32) / res
    out = np.empty((num, res, res, 3), np.uint8)
    for i in range(num):
        a = rng.uniform(0, 6.3, 3)
        base = 127 + 100 * np.sin(a[None, None] + 3 * x[..., None] + 2 * y[..., None] * a)
        out[i] = np.clip(base + rng.normal(0, 8, (res, res, 3)), 0, 255).astype(np.uint8)
    return out


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def timed(dataset: tf.data.Dataset, batches: int) -> float:
    iterator = iter(dataset)
    next(iterator)  # warm up (graph tracing, threads)
    start = time.perf_counter()
    count = 0
    for _ in range(batches):
        count += int(next(iterator).shape[0])
    return count / (time.perf_counter() - start)


def order_batches(num: int, batch: int, seed: int = 1) -> tf.data.Dataset:
    order = np.random.default_rng(seed).permutation(num)[: num // batch * batch]
    return tf.data.Dataset.from_tensor_slices(order.reshape(-1, batch).astype(np.int64)).repeat()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=2000)
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from array_record.python.array_record_data_source import ArrayRecordDataSource
    from array_record.python.array_record_module import ArrayRecordWriter

    from gantrain.data.prepared import WRITER_OPTIONS

    res, num = args.resolution, args.num
    shape = (res, res, 3)
    images = synthetic(num, res)
    root = Path(tempfile.mkdtemp(prefix="shard_formats_"))
    candidates: dict[str, tuple[tf.data.Dataset, float]] = {}
    try:
        # ArrayRecord with gantrain's writer options (one uncompressed record per chunk, for
        # random reads), raw and PNG records.
        for kind in ("raw", "png"):
            path = root / f"{kind}.array_record"
            writer = ArrayRecordWriter(str(path), WRITER_OPTIONS)
            for image in images:
                writer.write(image.tobytes() if kind == "raw" else png_bytes(image))
            writer.close()
            source = ArrayRecordDataSource([str(path)])

            def read(indices, source=source):
                return np.asarray(source.__getitems__(indices.tolist()), dtype=object)

            def decode(indices, kind=kind):
                data = tf.numpy_function(read, [indices], tf.string)
                if kind == "raw":
                    pixels = tf.reshape(tf.io.decode_raw(data, tf.uint8), [-1, *shape])
                else:
                    pixels = tf.map_fn(
                        lambda b: tf.io.decode_png(b, channels=3),
                        data,
                        fn_output_signature=tf.TensorSpec(shape, tf.uint8),
                    )
                return tf.cast(pixels, tf.float32) / 127.5 - 1.0

            dataset = (
                order_batches(num, args.batch)
                .map(decode, num_parallel_calls=tf.data.AUTOTUNE)
                .prefetch(tf.data.AUTOTUNE)
            )
            size = path.stat().st_size / num
            candidates[f"arrayrecord_{kind}"] = (dataset, size)

        # Plain binary shard of fixed-size records, read with os.pread (no mmap: its pages
        # would count in the process's RSS).
        path = root / "flat.bin"
        images.tofile(path)
        record = int(np.prod(shape))
        fd = os.open(path, os.O_RDONLY)

        def pread(indices):
            out = np.empty((len(indices), record), np.uint8)
            for row, i in enumerate(indices):
                out[row] = np.frombuffer(os.pread(fd, record, int(i) * record), np.uint8)
            return out

        def decode_flat(indices):
            pixels = tf.numpy_function(pread, [indices], tf.uint8)
            return tf.cast(tf.reshape(pixels, [-1, *shape]), tf.float32) / 127.5 - 1.0

        dataset = (
            order_batches(num, args.batch)
            .map(decode_flat, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE)
        )
        candidates["flat_pread"] = (dataset, record)

        # TFRecord: sequential only.
        path = root / "data.tfrecord"
        with tf.io.TFRecordWriter(str(path)) as writer:
            for image in images:
                writer.write(image.tobytes())
        dataset = (
            tf.data.TFRecordDataset(str(path))
            .repeat()
            .batch(args.batch)
            .map(
                lambda b: (
                    tf.cast(tf.reshape(tf.io.decode_raw(b, tf.uint8), [-1, *shape]), tf.float32)
                    / 127.5
                    - 1.0
                ),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
            .prefetch(tf.data.AUTOTUNE)
        )
        candidates["tfrecord_raw_sequential"] = (dataset, path.stat().st_size / num)
        # Round robin, median of the rounds: on a shared machine the load changes within
        # seconds, and measuring each format once, one after the other, ranks them by luck.
        rates: dict[str, list[float]] = {name: [] for name in candidates}
        for _ in range(args.rounds):
            for name, (dataset, _size) in candidates.items():
                rates[name].append(timed(dataset, args.batches))
        results = {
            name: (float(np.median(rates[name])), size)
            for name, (_dataset, size) in candidates.items()
        }
        os.close(fd)
    finally:
        shutil.rmtree(root)
    base = results["arrayrecord_raw"][0]
    print(
        f"{num} images {res}x{res}x3, batch {args.batch}, median of {args.rounds} rounds of "
        f"{args.batches} batches, page cache warm"
    )
    print(f"{'format':<26}{'images/s':>10}{'vs arrayrecord_raw':>20}{'bytes/image':>14}")
    for name, (rate, size) in results.items():
        print(f"{name:<26}{rate:>10.0f}{rate / base:>20.2f}{size:>14.0f}")


if __name__ == "__main__":
    main()
