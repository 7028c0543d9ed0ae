#!/usr/bin/env bash
# Reduction speed against the Python reference peer, in the same run on the same files:
# calibration, extraction + alignment, and a stack node of 5, per call, on 2048 x 2048 frames
# of the "paper" preset. Installs the peer's Debian packages (python3-numpy, -sep, -astropy)
# if missing. Prints one JSON object; speedups > 1 mean we are faster. "products" gives the
# bytes calibrate writes per frame and the seconds of its write and of photometry's read, with
# uint16 masks (before) against RICE-compressed uint8 masks (after) and a losslessly compressed
# image, as ratios measured in the same run (< 1: fewer bytes, less time).
#   bench/run-reduction.sh [FRAMES]   (default 10 science frames)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
frames=${1:-10}
bash "$root/scripts/setup-deps.sh" --reference-peers
cmake -S "$root" -B "$root/build" > /dev/null
cmake --build "$root/build" -j"$(nproc)" --target reduction_bench > /dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ours=$("$root/build/bin/reduction_bench" --work "$work" --frames "$frames" --threads "$(nproc)")
peer=$(/usr/bin/python3 "$root/bench/reference/reduction_peer.py" "$work")
/usr/bin/python3 - "$ours" "$peer" <<'PY'
import json, sys
ours, peer = json.loads(sys.argv[1]), json.loads(sys.argv[2])
one, many = ours["runs"]
published = {"calibration_s": 0.28, "extraction_alignment_s": 0.45, "stack_node_of_5_s": 0.56}
rows = {}
for key in published:
    rows[key] = {
        "ours_1_thread": round(one[key], 4),
        f"ours_{many['threads']}_threads": round(many[key], 4),
        "python_peer": round(peer[key], 4),
        "speedup_vs_peer_1_thread": round(peer[key] / one[key], 2),
        f"speedup_vs_peer_{many['threads']}_threads": round(peer[key] / many[key], 2),
        "published_system": published[key],
    }
products = ours["products"]
per_frame = {layout: {k: (int(v) if k.endswith("_bytes") else round(v, 4)) for k, v in m.items()}
             for layout, m in products["per_frame"].items()}
print(json.dumps({"frames": one["frames"], "size": "2048x2048", "per_call_seconds": rows,
                  "products": {"per_frame": per_frame,
                               "after_over_before": products["after_over_before"],
                               "image_compressed_over_after": products["image_compressed_over_after"],
                               "adopt_image_compression": products["adopt_image_compression"]}}, indent=2))
PY
