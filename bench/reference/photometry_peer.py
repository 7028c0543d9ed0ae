#!/usr/bin/env python3
"""The reference peer of bench/photometry_bench.cpp, on the same inputs: SEP apertures with a
local annulus at every position of one frame (python3-sep), and the relative-flux calibration
of the same 900 x 999 table written with numpy as a careful Python pipeline would (position
bins, flux-quantile groups, the trend and leave-one-out pruning, relative fluxes and errors).
A benchmark yardstick only: the service never runs Python.

usage: photometry_peer.py WORK STARS FRAMES  -> prints one JSON object
"""
import json
import pathlib
import sys
import time

import numpy as np
import sep
from astropy.io import fits


def best_of(n, work):
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - t0)
    return best


def photometry(data, rms, x, y, radii, gain):
    rmax = max(radii)
    for r in radii:
        sep.sum_circle(data, x, y, r, err=rms, gain=gain, bkgann=(2 * rmax, 3 * rmax))


def p2p(curve):
    d = np.diff(curve, axis=-1)
    mad = np.median(np.abs(d - np.median(d, axis=-1, keepdims=True)), axis=-1)
    return 1.4826 * mad / np.sqrt(2)


def group_curves(flux, refs):
    total = flux[refs].sum(axis=0)
    n = len(refs)
    return (n - 1) * flux[refs] / (total - flux[refs])


def snr(flux, refs):
    c = group_curves(flux, refs)
    var = np.maximum(c.var(axis=1), 1e-30)
    return np.sum(c.mean(axis=1) / var) / np.sqrt(np.sum(1 / var))


def prune(flux, refs):
    refs = list(refs)
    while len(refs) > 2:
        c = group_curves(flux, refs)
        ratio = c.std(axis=1) / (p2p(c) * np.abs(np.median(c, axis=1)))
        worst = int(np.argmax(ratio))
        if ratio[worst] > 1.3 and ratio[worst] > 1.3 * np.median(ratio):
            refs.pop(worst)
        else:
            break
    current = snr(flux, refs)
    while len(refs) > 2:
        trials = [snr(flux, refs[:i] + refs[i + 1:]) for i in range(len(refs))]
        best = int(np.argmax(trials))
        if trials[best] <= current:
            break
        current = trials[best]
        refs.pop(best)
    return refs


def relative_flux(flux, err, x, y):
    stars = flux.shape[0]
    level = np.median(flux, axis=1)
    bx = np.minimum((2 * (x - x.min()) / max(np.ptp(x), 1e-9)).astype(int), 1)
    by = np.minimum((2 * (y - y.min()) / max(np.ptp(y), 1e-9)).astype(int), 1)
    bins = by * 2 + bx
    rel = np.full_like(flux, np.nan)
    rel_err = np.full_like(flux, np.nan)
    for b in range(4):
        members = np.flatnonzero(bins == b)
        order = members[np.argsort(level[members])]
        n_p = len(order)
        n_f = max(1, min(n_p // 6, int(np.sqrt(n_p))))
        for q in range(n_f):
            group = order[n_p * q // n_f: n_p * (q + 1) // n_f]
            refs = prune(flux, list(group))
            total = flux[refs].sum(axis=0)
            var = (err[refs] ** 2).sum(axis=0)
            for s in group:
                if s in refs:
                    S, V, n = total - flux[s], var - err[s] ** 2, len(refs) - 1
                else:
                    S, V, n = total, var, len(refs)
                rel[s] = n * flux[s] / S
                rel_err[s] = rel[s] * np.sqrt((err[s] / flux[s]) ** 2 + V / S ** 2)
    return rel, rel_err


def main():
    work = pathlib.Path(sys.argv[1])
    stars, frames = int(sys.argv[2]), int(sys.argv[3])
    with fits.open(work / "frame.fits") as hdul:
        data = hdul[0].data.astype(np.float32)
        rms = float(hdul[0].header["BKGRMS"])
    pos = np.loadtxt(work / "positions.csv", delimiter=",", ndmin=2)
    seconds_photometry = best_of(5, lambda: photometry(data, rms, pos[:, 0], pos[:, 1], [4.5, 6.0, 9.0], 1.2))
    raw = np.fromfile(work / "table.bin", dtype=np.float64)
    cells = stars * frames
    flux = raw[:cells].reshape(stars, frames)
    err = raw[cells:2 * cells].reshape(stars, frames)
    x = raw[2 * cells:2 * cells + stars]
    y = raw[2 * cells + stars:]
    seconds_relative = best_of(1, lambda: relative_flux(flux, err, x, y))
    print(json.dumps({"photometry_frame_s": seconds_photometry, "relative_flux_s": seconds_relative,
                      "photometry_stars": len(pos)}))


if __name__ == "__main__":
    main()
