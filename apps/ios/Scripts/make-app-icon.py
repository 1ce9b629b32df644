#!/usr/bin/env python3
"""Draws the app icon (1024 x 1024, opaque RGB PNG, standard library only):
a terminal prompt -- a green chevron and cursor bar -- on a dark slate
gradient, with a small amber dot for "waiting for your answer".

    apps/ios/Scripts/make-app-icon.py apps/ios/DDCompanion/Assets.xcassets/AppIcon.appiconset/AppIcon.png
"""

import math
import struct
import sys
import zlib

SIZE = 1024
TOP, BOTTOM = (15, 23, 42), (30, 41, 59)
GREEN, AMBER = (34, 197, 94), (245, 158, 11)
# Capsules: (x0, y0, x1, y1, radius) in pixels.
STROKES = [
    (300, 330, 500, 512, 52),  # chevron, upper arm
    (500, 512, 300, 694, 52),  # chevron, lower arm
    (560, 700, 760, 700, 46),  # cursor bar
]
DOT = (760, 300, 58)


def seg_dist(px, py, x0, y0, x1, y1):
    dx, dy = x1 - x0, y1 - y0
    t = max(0.0, min(1.0, ((px - x0) * dx + (py - y0) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (x0 + t * dx), py - (y0 + t * dy))


def mix(a, b, t):
    return tuple(round(a[i] + (b[i] - a[i]) * t) for i in range(3))


def pixel(x, y):
    color = mix(TOP, BOTTOM, y / (SIZE - 1))
    # One pixel of anti-aliasing at every edge.
    cover = 0.0
    for x0, y0, x1, y1, r in STROKES:
        cover = max(cover, min(1.0, max(0.0, r - seg_dist(x + 0.5, y + 0.5, x0, y0, x1, y1) + 0.5)))
    if cover:
        color = mix(color, GREEN, cover)
    dx, dy, r = DOT
    dot = min(1.0, max(0.0, r - math.hypot(x + 0.5 - dx, y + 0.5 - dy) + 0.5))
    if dot:
        color = mix(color, AMBER, dot)
    return color


def png(rows):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\0" + bytes(c for px in row for c in px) for row in rows)
    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "AppIcon.png"
    rows = [[pixel(x, y) for x in range(SIZE)] for y in range(SIZE)]
    with open(out, "wb") as f:
        f.write(png(rows))


if __name__ == "__main__":
    main()
