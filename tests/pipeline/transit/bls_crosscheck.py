#!/usr/bin/python3
"""Cross-check (not a runtime dependency): our BLS (tianyu-transit search --method bls) against
astropy's BoxLeastSquares (objective "snr") on the same simulated light curves, durations and
period grid. Both must pick the same period (within 0.2 %) and depth (within 5 % or 2 sigma).
Usage: bls_crosscheck.py TIANYU_TRANSIT. Prints PASS/FAIL lines; exit 77 without astropy."""
import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    from astropy.timeseries import BoxLeastSquares
except ImportError:
    print("SKIP: python3-astropy/numpy are not installed (scripts/setup-deps.sh --reference-peers)")
    sys.exit(77)

exe = sys.argv[1]
durations = [0.06, 0.1, 0.14]
fmin, fmax, count = 1 / 5.0, 1 / 0.8, 3000
periods = 1 / (fmax - (fmax - fmin) * np.arange(count) / (count - 1))  # our period_grid
failures = 0
with tempfile.TemporaryDirectory() as work:
    for seed in range(10):
        rng = np.random.default_rng(seed)
        t = 2460000.0 + 0.01 * np.arange(1200)
        sigma = 1e-3
        period, t0, duration = 1 + 3 * rng.uniform(), 2460000.0 + rng.uniform() * 4, 0.1
        depth = 15 * sigma / np.sqrt(12 / period * 10)
        phase = np.remainder(t - t0 + period / 2, period) - period / 2
        flux = 1 - depth * (np.abs(phase) < duration / 2) + sigma * rng.normal(size=t.size)
        path = os.path.join(work, f"lc{seed}.csv")
        np.savetxt(path, np.column_stack([t, flux, np.full(t.size, sigma)]), delimiter=",",
                   header="time,flux,flux_err", comments="", fmt="%.8f")
        ours = json.loads(subprocess.run(
            [exe, "search", path, "--method", "bls", "--durations", ",".join(map(str, durations)),
             "--min-period", "0.8", "--max-period", "5", "--periods", str(count), "--json"],
            check=True, capture_output=True, text=True).stdout)[0]
        y = flux / np.median(flux)
        result = BoxLeastSquares(t, y, np.full(t.size, sigma / np.median(flux))).power(periods, durations, objective="snr")
        best = int(np.argmax(result.power))
        theirs_period, theirs_depth, theirs_err = result.period[best], result.depth[best], result.depth_err[best]
        same_period = abs(ours["period"] - theirs_period) < 0.002 * theirs_period
        same_depth = abs(ours["depth"] - theirs_depth) < max(0.05 * theirs_depth, 2 * theirs_err)
        ok = same_period and same_depth
        failures += not ok
        print(f"{'PASS' if ok else 'FAIL'}: seed {seed} truth P {period:.5f} depth {depth:.5f}; ours P "
              f"{ours['period']:.5f} depth {ours['depth']:.5f}; astropy P {theirs_period:.5f} depth {theirs_depth:.5f}"
              f" +- {theirs_err:.5f}")
sys.exit(1 if failures else 0)
