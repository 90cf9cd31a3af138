#!/usr/bin/env python3
"""Generates daemon/src/dashboard/world-map.js, the dashboard's world map.

Input: the Natural Earth 1:110m countries as TopoJSON from the npm package world-atlas@2
(countries-110m.json; Natural Earth is public domain, world-atlas is ISC) and the ISO 3166
code table of the npm package i18n-iso-countries (codes.json: alpha-2, alpha-3, numeric; MIT).
Fetch both with `npm pack` (no install needed):

    cd /tmp && npm pack world-atlas@2 i18n-iso-countries
    mkdir wa ic && tar xzf world-atlas-2.*.tgz -C wa && tar xzf i18n-iso-countries-*.tgz -C ic
    scripts/gen-world-map.py /tmp/wa/package/countries-110m.json \
        /tmp/ic/package/codes.json daemon/src/dashboard/world-map.js

Output: one script setting `window.VIGIL_WORLD`: for each country with an ISO 3166 alpha-2 code,
its English name (from Natural Earth), its outline as an SVG path in an equirectangular
projection (x = (lon + 180) * 1000 / 360, y = (84 - lat) * 1000 / 360; Antarctica left out)
and the centroid of its largest polygon. Coordinates are rounded to 0.1 unit and written
relative (`l dx dy`), which keeps the file small (about 100 KB). Pure standard library.
"""

import json
import sys

WIDTH = 1000.0
K = WIDTH / 360.0
LAT_TOP = 84.0
LAT_BOTTOM = -58.0
# Geometries of world-atlas without a numeric ISO code, by Natural Earth name.
EXTRA = {"Kosovo": "XK"}
LEFT_OUT = {"AQ"}


def decode_arcs(topology):
    sx, sy = topology["transform"]["scale"]
    tx, ty = topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x += dx
            y += dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring_points(ring, arcs):
    points = []
    for index in ring:
        arc = arcs[index] if index >= 0 else list(reversed(arcs[~index]))
        # Consecutive arcs share their end point.
        points.extend(arc if not points else arc[1:])
    return points


def unwrap(points):
    """Longitudes made continuous across the antimeridian (a ring of Russia or Fiji that
    jumps from 180 to -180 goes on to 181 instead), and the copies to draw: the ring itself,
    and shifted by 360 degrees when part of it lies beyond +-180 (the view clips the rest)."""
    out = []
    for lon, lat in points:
        if out:
            previous = out[-1][0]
            while lon - previous > 180:
                lon -= 360
            while lon - previous < -180:
                lon += 360
        out.append((lon, lat))
    copies = [out]
    if max(lon for lon, _ in out) > 180:
        copies.append([(lon - 360, lat) for lon, lat in out])
    if min(lon for lon, _ in out) < -180:
        copies.append([(lon + 360, lat) for lon, lat in out])
    return copies


def project(lon, lat):
    lat = max(min(lat, LAT_TOP), LAT_BOTTOM)
    return ((lon + 180.0) * K, (LAT_TOP - lat) * K)


def tenths(value):
    return int(round(value * 10))


def fmt(value_tenths):
    text = f"{value_tenths / 10:.1f}"
    if text.endswith(".0"):
        text = text[:-2]
    if text.startswith("0."):
        text = text[1:]
    elif text.startswith("-0."):
        text = "-" + text[2:]
    return text


def ring_path(points):
    """An SVG subpath of projected points, relative after the first, in tenths."""
    ints = []
    for x, y in points:
        p = (tenths(x), tenths(y))
        if not ints or ints[-1] != p:
            ints.append(p)
    if len(ints) > 1 and ints[0] == ints[-1]:
        ints.pop()
    if len(ints) < 3:
        return ""
    out = [f"M{fmt(ints[0][0])} {fmt(ints[0][1])}l"]
    deltas = []
    for (x0, y0), (x1, y1) in zip(ints, ints[1:]):
        dx, dy = fmt(x1 - x0), fmt(y1 - y0)
        deltas.append(dx + ("" if dy.startswith("-") else " ") + dy)
    out.append(" ".join(deltas))
    out.append("z")
    return "".join(out)


def area_centroid(points):
    area = cx = cy = 0.0
    n = len(points)
    for i in range(n):
        x0, y0 = points[i]
        x1, y1 = points[(i + 1) % n]
        cross = x0 * y1 - x1 * y0
        area += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    area /= 2.0
    if abs(area) < 1e-9:
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        return 0.0, (sum(xs) / n, sum(ys) / n)
    return abs(area), (cx / (6 * area), cy / (6 * area))


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: gen-world-map.py countries-110m.json codes.json world-map.js")
    topology = json.load(open(sys.argv[1], encoding="utf-8"))
    codes = json.load(open(sys.argv[2], encoding="utf-8"))
    numeric_to_alpha2 = {numeric: alpha2 for alpha2, _alpha3, numeric, *_ in codes}
    arcs = decode_arcs(topology)
    countries = {}
    skipped = []
    for geometry in topology["objects"]["countries"]["geometries"]:
        name = geometry["properties"]["name"]
        code = numeric_to_alpha2.get(geometry.get("id")) or EXTRA.get(name)
        if code is None:
            skipped.append(name)
            continue
        if code in LEFT_OUT:
            continue
        if geometry["type"] == "Polygon":
            polygons = [geometry["arcs"]]
        elif geometry["type"] == "MultiPolygon":
            polygons = geometry["arcs"]
        else:
            continue
        parts = []
        best = (-1.0, (0.0, 0.0))
        for polygon in polygons:
            for i, ring in enumerate(polygon):
                copies = unwrap(ring_points(ring, arcs))
                for copy in copies:
                    path = ring_path([project(lon, lat) for lon, lat in copy])
                    if path:
                        parts.append(path)
                projected = [project(lon, lat) for lon, lat in copies[0]]
                if i == 0:
                    area, centroid = area_centroid(projected)
                    if area > best[0]:
                        best = (area, centroid)
        if not parts:
            continue
        entry = countries.setdefault(code, {"n": name, "d": "", "c": None, "a": -1.0})
        entry["d"] += "".join(parts)
        if best[0] > entry["a"]:
            entry["a"] = best[0]
            entry["c"] = [round(best[1][0], 1), round(best[1][1], 1)]
    for entry in countries.values():
        del entry["a"]
    world = {
        "width": WIDTH,
        "height": round((LAT_TOP - LAT_BOTTOM) * K, 1),
        "lat_top": LAT_TOP,
        "scale": round(K, 6),
        "countries": dict(sorted(countries.items())),
    }
    header = (
        "/* Vigil dashboard world map, generated by scripts/gen-world-map.py: do not edit.\n"
        " * Outlines: Natural Earth 1:110m admin 0 countries (public domain), as packaged in\n"
        " * the npm package world-atlas 2 (countries-110m.json; ISC licence, Copyright 2013-2019\n"
        " * Michael Bostock). ISO 3166 numeric to alpha-2 codes: npm package i18n-iso-countries\n"
        " * (codes.json; MIT licence, Copyright 2016 widdix GmbH).\n"
        " * Equirectangular projection: x = (lon + 180) * 1000 / 360, y = (84 - lat) * 1000 / 360;\n"
        " * Antarctica left out. Per country (ISO 3166 alpha-2): n = name, d = SVG path,\n"
        " * c = centroid of its largest polygon. */\n"
    )
    body = json.dumps(world, separators=(",", ":"), ensure_ascii=True)
    with open(sys.argv[3], "w", encoding="utf-8") as out:
        out.write(header)
        out.write('"use strict";\n')
        out.write("window.VIGIL_WORLD = " + body + ";\n")
    print(
        f"{len(countries)} countries, {len(header) + len(body)} bytes; no ISO code: {skipped}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
