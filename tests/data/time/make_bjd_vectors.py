#!/usr/bin/python3
"""Writes bjd_vectors.csv: BJD_TDB by astropy (ERFA epv00 ephemeris, geocentric observer) for
times 2000-2040 and stars all over the sky, the reference of tests/pipeline/time. Run with
Debian's python3-astropy:  /usr/bin/python3 tests/data/time/make_bjd_vectors.py"""
import csv
import os

import numpy as np
from astropy import units as u
from astropy.coordinates import EarthLocation, SkyCoord
from astropy.time import Time

rng = np.random.default_rng(20261122)
rows = []
# The real night of ../shared/data/hatp32 (target HAT-P-32) first, then random cases.
cases = [(2458107.5650 + k * 0.05, 31.0428, 46.6878) for k in range(8)]
for _ in range(60):
    jd = 2451545.0 + rng.uniform(0, 40 * 365.25)
    ra = rng.uniform(0, 360)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1)))
    cases.append((jd, ra, dec))
geocentre = EarthLocation.from_geocentric(0 * u.m, 0 * u.m, 0 * u.m)
for jd, ra, dec in cases:
    t = Time(jd, format="jd", scale="utc", location=geocentre)
    star = SkyCoord(ra * u.deg, dec * u.deg, frame="icrs")
    bjd = (t.tdb + t.light_travel_time(star, kind="barycentric", ephemeris="builtin")).jd
    rows.append((f"{jd:.8f}", f"{ra:.6f}", f"{dec:.6f}", f"{t.tdb.jd:.10f}", f"{bjd:.10f}"))
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bjd_vectors.csv")
with open(out, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["jd_utc", "ra_deg", "dec_deg", "jd_tdb", "bjd_tdb"])
    w.writerows(rows)
print(f"wrote {len(rows)} rows to {out}")
