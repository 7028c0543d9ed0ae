#!/usr/bin/env bash
# Photometry speed against the Python reference peer, in the same run on the same inputs:
# aperture photometry of one 2048 x 2048 frame (3 radii, local sky) and the relative-flux
# calibration of a 900-star x 999-frame table. Prints one JSON object; ratios > 1: we are faster.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup-deps.sh" --reference-peers
cmake -S "$root" -B "$root/build" > /dev/null
cmake --build "$root/build" -j"$(nproc)" --target photometry_bench > /dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ours=$("$root/build/bin/photometry_bench" --work "$work" --stars 900 --frames 999)
peer=$(/usr/bin/python3 "$root/bench/reference/photometry_peer.py" "$work" 900 999)
/usr/bin/python3 - "$ours" "$peer" <<'PY'
import json, sys
ours, peer = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(json.dumps({
    "photometry_stars": ours["photometry_stars"], "radii": ours["photometry_radii"],
    "photometry_frame_s": {"ours": round(ours["photometry_frame_s"], 4), "python_peer": round(peer["photometry_frame_s"], 4),
                           "speedup": round(peer["photometry_frame_s"] / ours["photometry_frame_s"], 2)},
    "relative_flux_900x999_s": {"ours": round(ours["relative_flux_s"], 3), "python_peer": round(peer["relative_flux_s"], 3),
                                "speedup": round(peer["relative_flux_s"] / ours["relative_flux_s"], 2),
                                "published_system_886456_rows": 262},
    "groups": ours["groups"], "references": ours["references"]}, indent=2))
PY
