#!/usr/bin/env python3
"""The reference peer of bench/reduction_bench.cpp: the same three operations, on the same files,
done as a Python pipeline would (astropy.io.fits, numpy, sep), timed the same way (median
seconds per call). A benchmark yardstick only: the service never runs Python.

usage: reduction_peer.py WORK  -> prints one JSON object
"""
import json
import pathlib
import statistics
import sys
import time

import numpy as np
import sep
from astropy.io import fits

SATURATION = 65000.0


def timed(work):
    t0 = time.perf_counter()
    result = work()
    return time.perf_counter() - t0, result


def calibrate(raw_path, bias, dark, flat, out_path):
    with fits.open(raw_path) as hdul:
        data = hdul[0].data.astype(np.float32)
        exptime = float(hdul[0].header["EXPTIME"])
    mask = (data >= SATURATION) | ~np.isfinite(data)
    data = (data - bias - dark * exptime) / flat
    bkg = sep.Background(data, mask=mask, bw=64, bh=64, fw=3, fh=3)
    data = data - bkg.back()
    header = fits.Header()
    header["BKGRMS"] = bkg.globalrms
    fits.PrimaryHDU(data.astype(np.float32), header).writeto(out_path, overwrite=True)


def extract(path):
    with fits.open(path) as hdul:
        data = hdul[0].data.astype(np.float32)
        rms = float(hdul[0].header["BKGRMS"])
    objects = sep.extract(np.ascontiguousarray(data), 5.0, err=rms, minarea=5)
    order = np.argsort(-objects["flux"])[:300]
    return objects["x"][order], objects["y"][order]


def integer_offset(ref, frame):
    """The published alignment: the mode of all pairwise rounded differences, axis by axis."""
    diffs = np.subtract.outer(np.round(frame), np.round(ref)).astype(np.int64).ravel()
    lo = diffs.min()
    return int(np.argmax(np.bincount(diffs - lo)) + lo)


def align(ref, frame):
    dx = integer_offset(ref[0], frame[0])
    dy = integer_offset(ref[1], frame[1])
    # Sub-pixel: mean offset of nearest pairs within 1.5 px of the integer prediction.
    ex = frame[0][:, None] - ref[0][None, :] - dx
    ey = frame[1][:, None] - ref[1][None, :] - dy
    d2 = ex * ex + ey * ey
    nearest = np.argmin(d2, axis=1)
    ok = d2[np.arange(len(nearest)), nearest] < 1.5 ** 2
    return (dx + float(np.mean(ex[ok, nearest[ok]])), dy + float(np.mean(ey[ok, nearest[ok]])))


def shifted(image, dx, dy):
    """frame(x + dx, y + dy) on the reference grid, bilinear; NaN where not covered."""
    h, w = image.shape
    ix, iy = int(np.floor(dx)), int(np.floor(dy))
    tx, ty = dx - ix, dy - iy
    padded = np.full((h + 2, w + 2), np.nan, dtype=np.float32)
    padded[1:-1, 1:-1] = image
    ys = np.clip(np.arange(h) + iy + 1, 0, h + 1)
    xs = np.clip(np.arange(w) + ix + 1, 0, w + 1)
    ys1 = np.clip(ys + 1, 0, h + 1)
    xs1 = np.clip(xs + 1, 0, w + 1)
    return ((1 - tx) * (1 - ty) * padded[np.ix_(ys, xs)] + tx * (1 - ty) * padded[np.ix_(ys, xs1)]
            + (1 - tx) * ty * padded[np.ix_(ys1, xs)] + tx * ty * padded[np.ix_(ys1, xs1)])


def stack(paths, offsets, out_path):
    total = None
    weight = None
    for path, (dx, dy) in zip(paths, offsets):
        with fits.open(path) as hdul:
            frame = shifted(hdul[0].data.astype(np.float32), dx, dy)
        good = np.isfinite(frame)
        if total is None:
            total = np.zeros(frame.shape, np.float64)
            weight = np.zeros(frame.shape, np.float64)
        total[good] += frame[good]
        weight[good] += 1.0
    mean = np.where(weight > 0, total / np.maximum(weight, 1), 0.0).astype(np.float32)
    fits.PrimaryHDU(mean).writeto(out_path, overwrite=True)


def main():
    work = pathlib.Path(sys.argv[1])
    out = work / "peer"
    out.mkdir(exist_ok=True)
    bias = fits.getdata(work / "masters" / "bias.fits").astype(np.float32)
    dark = fits.getdata(work / "masters" / "dark_rate.fits").astype(np.float32)
    flat = fits.getdata(work / "masters" / "flat.fits").astype(np.float32)
    raw = sorted((work / "raw").glob("sci_*.fits"))
    calibrated = [out / p.name for p in raw]
    calibration = [timed(lambda: calibrate(r, bias, dark, flat, c))[0] for r, c in zip(raw, calibrated)]
    alignment, offsets, reference = [], [], None
    for path in calibrated:
        def work_one():
            nonlocal reference
            sources = extract(path)
            if reference is None:
                reference = sources
            return align(reference, sources)
        seconds, offset = timed(work_one)
        alignment.append(seconds)
        offsets.append(offset)
    stacking = []
    for first in range(0, len(calibrated) - 4, 5):
        stacking.append(timed(lambda: stack(calibrated[first:first + 5], offsets[first:first + 5],
                                            out / f"stack_{first}.fits"))[0])
    print(json.dumps({"calibration_s": statistics.median(calibration),
                      "extraction_alignment_s": statistics.median(alignment),
                      "stack_node_of_5_s": statistics.median(stacking),
                      "frames": len(raw),
                      "offsets": offsets}))


if __name__ == "__main__":
    main()
