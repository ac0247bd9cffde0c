"""Baseline for bench/vision: the HF MiniCPM-V image processor's pixel path in PIL + numpy.

A server, so the benchmark can interleave it with the TypeScript runs (on a loaded machine, runs
minutes apart see different load): the first stdin line is the config, JSON {"max_slice_nums": 9,
"scale_resolution": 448, "patch_size": 14, "mean": [...], "std": [...]}; then each line is an image
path, and for each the server runs once
bytes -> Image.open().convert("RGB") -> overview + refine resize (BICUBIC, from the original) -> crop
-> rescale (float64 * 1/255 -> float32, as transformers' rescale) -> normalise (float32) -> CHW
and answers one JSON line: wall and CPU ms of that run, sha256 of the concatenated float32 CHW arrays.
The file is read before the clock starts (the TypeScript side gets bytes in memory too).
The slicing arithmetic is the processor's (see libs/vision/fixtures/gen_slice_plans.py).
"""
import hashlib
import io
import json
import math
import sys
import time

import numpy as np
from PIL import Image


def ensure_divide(length, patch_size):
    return max(round(length / patch_size) * patch_size, patch_size)


def find_best_resize(original_size, scale_resolution, patch_size, allow_upscale=False):
    width, height = original_size
    if (width * height > scale_resolution * scale_resolution) or allow_upscale:
        r = width / height
        height = int(scale_resolution / math.sqrt(r))
        width = int(height * r)
    return (ensure_divide(width, patch_size), ensure_divide(height, patch_size))


def get_refine_size(original_size, grid, scale_resolution, patch_size, allow_upscale=False):
    width, height = original_size
    grid_x, grid_y = grid
    refine_width = ensure_divide(width, grid_x)
    refine_height = ensure_divide(height, grid_y)
    best = find_best_resize((refine_width / grid_x, refine_height / grid_y), scale_resolution, patch_size, allow_upscale=allow_upscale)
    return (best[0] * grid_x, best[1] * grid_y)


def get_sliced_grid(image_size, max_slice_nums, scale_resolution):
    w, h = image_size
    log_ratio = math.log(w / h)
    multiple = min(math.ceil(w * h / (scale_resolution * scale_resolution)), max_slice_nums)
    if multiple <= 1:
        return None
    candidates = []
    for n in [multiple - 1, multiple, multiple + 1]:
        if n == 1 or n > max_slice_nums:
            continue
        for m in range(1, n + 1):
            if n % m == 0:
                candidates.append([m, n // m])
    best, best_err = [1, 1], float("inf")
    for g in candidates:
        err = abs(log_ratio - math.log(g[0] / g[1]))
        if err < best_err:
            best, best_err = g, err
    return best


def slice_image(image, max_slice_nums, scale_resolution, patch_size):
    grid = get_sliced_grid(image.size, max_slice_nums, scale_resolution)
    if grid is None:
        return [image.resize(find_best_resize(image.size, scale_resolution, patch_size, allow_upscale=True), Image.BICUBIC)]
    out = [image.resize(find_best_resize(image.size, scale_resolution, patch_size), Image.BICUBIC)]
    refine = image.resize(get_refine_size(image.size, grid, scale_resolution, patch_size, allow_upscale=True), Image.BICUBIC)
    gw, gh = refine.size[0] // grid[0], refine.size[1] // grid[1]
    for i in range(0, refine.size[1], gh):
        for j in range(0, refine.size[0], gw):
            out.append(refine.crop((j, i, j + gw, i + gh)))
    return out


def preprocess(data, cfg, mean, std):
    image = Image.open(io.BytesIO(data)).convert("RGB")
    pixels = []
    for im in slice_image(image, cfg["max_slice_nums"], cfg["scale_resolution"], cfg["patch_size"]):
        a = (np.asarray(im).astype(np.float64) * (1 / 255)).astype(np.float32)
        a = (a - mean) / std
        pixels.append(np.ascontiguousarray(a.transpose(2, 0, 1)))
    return pixels


def main():
    cfg = json.loads(sys.stdin.readline())
    mean = np.array(cfg["mean"], dtype=np.float32)
    std = np.array(cfg["std"], dtype=np.float32)
    for line in sys.stdin:
        path = line.strip()
        if not path:
            continue
        with open(path, "rb") as f:
            data = f.read()
        t0, c0 = time.perf_counter(), time.process_time()
        pixels = preprocess(data, cfg, mean, std)
        ms, cpu = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
        h = hashlib.sha256()
        for p in pixels:
            h.update(p.tobytes())
        print(json.dumps({"path": path, "ms": ms, "cpu": cpu, "sha256": h.hexdigest(), "shapes": [list(p.shape) for p in pixels]}), flush=True)


if __name__ == "__main__":
    main()
