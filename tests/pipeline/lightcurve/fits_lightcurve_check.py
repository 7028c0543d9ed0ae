#!/usr/bin/python3
"""Our FITS light curve as a TESS user meets it (issue 16).

  fits_lightcurve_check.py astropy <lightcurve_example> <dir>
      astropy's Table.read(path, hdu='LIGHTCURVE') opens the file: the columns, their units,
      BJDREFI/BJDREFF/TIMESYS/TIMEUNIT, OBJECT/RA_OBJ/DEC_OBJ, and the values equal the CSV's.
      Exit 77 (skipped) when astropy is not installed.
  fits_lightcurve_check.py transit <lightcurve_example> <tianyu-transit> <dir>
      tianyu-transit fit and search find the same transit in the FITS file as in the CSV.
Prints FAIL: on any mismatch.
"""
import csv
import json
import math
import os
import subprocess
import sys


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def make_examples(example, directory):
    os.makedirs(directory, exist_ok=True)
    subprocess.run([example, directory], check=True)


def check_astropy(directory):
    try:
        from astropy.io import fits
        from astropy.table import Table
    except ImportError:
        print("astropy is not installed: skipped")
        sys.exit(77)
    path = os.path.join(directory, "night.fits")
    table = Table.read(path, hdu="LIGHTCURVE")
    check(table.colnames[:4] == ["TIME", "FLUX", "FLUX_ERR", "QUALITY"], "columns are %s" % table.colnames)
    check(str(table["TIME"].unit) == "d", "TIME unit is %r" % table["TIME"].unit)
    for name in ("FLUX", "FLUX_ERR"):
        unit = table[name].unit
        check(unit is None or str(unit) == "", "%s has unit %r, expected none (relative flux)" % (name, unit))
    check(table["QUALITY"].dtype.kind == "i" and table["QUALITY"].dtype.itemsize == 4, "QUALITY is %s" % table["QUALITY"].dtype)
    header = fits.getheader(path, "LIGHTCURVE")
    check(header["BJDREFI"] == 2457000 and header["BJDREFF"] == 0.0, "BJDREFI/BJDREFF are %r/%r" % (header["BJDREFI"], header["BJDREFF"]))
    check(header["TIMESYS"] == "TDB" and header["TIMEUNIT"] == "d", "TIMESYS/TIMEUNIT are %r/%r" % (header["TIMESYS"], header["TIMEUNIT"]))
    primary = fits.getheader(path, 0)
    check(primary["OBJECT"] == "HAT-P-32 (synthetic)", "OBJECT is %r" % primary["OBJECT"])
    check(abs(primary["RA_OBJ"] - 31.042825) < 1e-12 and abs(primary["DEC_OBJ"] - 46.687836) < 1e-12,
          "RA_OBJ/DEC_OBJ are %r/%r" % (primary["RA_OBJ"], primary["DEC_OBJ"]))
    with open(os.path.join(directory, "night.csv")) as f:
        rows = list(csv.DictReader(f))
    check(len(rows) == len(table), "%d rows in the CSV, %d in the FITS table" % (len(rows), len(table)))
    for row, fits_row in zip(rows, table):
        check(abs(float(row["bjd_tdb"]) - (fits_row["TIME"] + 2457000)) < 1e-8, "time %s differs" % row["bjd_tdb"])
        if row["rel_flux"]:
            check(float(row["rel_flux"]) == fits_row["FLUX"], "flux %s differs from %r" % (row["rel_flux"], fits_row["FLUX"]))
            check(int(row["flags"]) == fits_row["QUALITY"], "flags %s differ" % row["flags"])
        else:
            flux = fits_row["FLUX"]  # astropy masks a NaN in a float column
            missing = bool(getattr(flux, "mask", False)) or math.isnan(float(flux))
            check(missing and fits_row["QUALITY"] != 0, "an empty CSV flux is not NaN + flagged")
    print("astropy reads %s: %d rows, TIME in d (BTJD), BJDREFI 2457000, TIMESYS TDB" % (path, len(table)))


def transit_json(transit, *args):
    out = subprocess.run([transit, *args, "--json"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def check_transit(transit, directory):
    night_csv, night_fits = (os.path.join(directory, "night." + e) for e in ("csv", "fits"))
    from_csv = transit_json(transit, "fit", night_csv)
    from_fits = transit_json(transit, "fit", night_fits)
    for key in ("mid_time_bjd_tdb", "duration_d", "depth", "points"):
        check(abs(from_csv[key] - from_fits[key]) <= 1e-9 * max(1.0, abs(from_csv[key])),
              "fit %s: CSV %r, FITS %r" % (key, from_csv[key], from_fits[key]))
    check(abs(from_fits["mid_time_bjd_tdb"] - 2459800.70) < 0.003, "fit mid-time %r" % from_fits["mid_time_bjd_tdb"])
    check(abs(from_fits["depth"] - 0.01) < 0.002, "fit depth %r" % from_fits["depth"])
    search = ["search", "--method", "bls", "--min-period", "1", "--max-period", "5", "--periods", "4000", "--threads", "2"]
    csv_found = transit_json(transit, *search, os.path.join(directory, "nights.csv"))[0]
    fits_found = transit_json(transit, *search, os.path.join(directory, "nights.fits"))[0]
    for key in ("period", "t0", "depth"):
        check(abs(csv_found[key] - fits_found[key]) <= 1e-6 * max(1.0, abs(csv_found[key])),
              "search %s: CSV %r, FITS %r" % (key, csv_found[key], fits_found[key]))
    check(abs(fits_found["period"] - 2.2) < 0.01, "search period %r" % fits_found["period"])
    print("fit: mid-time %.5f depth %.4f from both; search: period %.4f from both"
          % (from_fits["mid_time_bjd_tdb"], from_fits["depth"], fits_found["period"]))


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "astropy":
        make_examples(sys.argv[2], sys.argv[3])
        check_astropy(sys.argv[3])
    elif len(sys.argv) >= 5 and sys.argv[1] == "transit":
        make_examples(sys.argv[2], sys.argv[4])
        check_transit(sys.argv[3], sys.argv[4])
    else:
        fail("usage: fits_lightcurve_check.py astropy <example> <dir> | transit <example> <tianyu-transit> <dir>")


if __name__ == "__main__":
    main()
