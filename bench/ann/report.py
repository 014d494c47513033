#!/usr/bin/env python3
"""Tables, ratios and plots of bench/ann from the JSON lines of one run.

    bench/.venv/bin/python bench/ann/report.py --out bench/ann/last-run.json \
        [--svg-dir bench/ann] RESULTS.jsonl [MORE.jsonl ...]

Every input line is one (engine, ef) measurement of ann_bench.rs or
peers.py; lines are grouped by their "dataset". Prints per data set the
recall@10 / queries-per-second sweep, build time and memory, the
quantized-flat memory-versus-recall table, and the ratios the issue asks
for; writes them all (with the raw lines) to --out, and one SVG of recall
against queries/s per data set (recall-qps-DATASET.svg).
"""
import argparse
import json
import math
import os
import sys
from collections import defaultdict

TARGET = 0.95
MIB = 1024 * 1024
# Drawing order and colours of the curves.
COLOURS = {
    "fundus-f32-native": "#08306b",
    "fundus-f32": "#1f77b4", "fundus-f32-portable": "#17becf", "fundus-f16": "#9467bd",
    "fundus-f16-portable": "#c5b0d5",
    "fundus-int8": "#2ca02c", "fundus-int8-portable": "#98df8a", "fundus-binary": "#d62728",
    "fundus-binary-portable": "#ff9896", "fundus-binary2": "#8c564b",
    "fundus-binary2-portable": "#c49c94", "hnswlib": "#ff7f0e", "faiss": "#7f7f7f",
}


def load(paths):
    rows = []
    for p in paths:
        with open(p) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    rows.append(json.loads(line))
    return rows


def first_reaching(curve, target=TARGET):
    """The point of smallest ef whose recall reaches target, or None."""
    for r in sorted(curve, key=lambda r: r["ef"]):
        if r["recall"] >= target:
            return r
    return None


def fmt_bytes(b):
    return f"{b / MIB:.1f}"


def sweep_table(curves, efs):
    names = list(curves)
    out = ["| engine | " + " | ".join(f"ef {e}" for e in efs) + " |",
           "|---|" + "---:|" * len(efs)]
    for name in names:
        by_ef = {r["ef"]: r for r in curves[name]}
        cells = []
        for e in efs:
            r = by_ef.get(e)
            cells.append(f"{r['recall']:.4f} / {r['qps']:.0f}" if r else "")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return out


def analyse(dataset, rows, svg_dir):
    graph = [r for r in rows if "ef" in r]
    flat = [r for r in rows if r["engine"].startswith("fundus-flat-")]
    curves = defaultdict(list)
    for r in graph:
        curves[r["engine"]].append(r)
    order = sorted(curves, key=lambda e: (0 if e.startswith("fundus") else 1, e))
    curves = {e: sorted(curves[e], key=lambda r: r["ef"]) for e in order}
    efs = sorted({r["ef"] for r in graph})
    any_row = rows[0]
    lines = [f"### {dataset}: {any_row['n']} vectors x {any_row['dim']}, {any_row['queries']} queries, "
             f"k = {any_row['k']}"]
    if graph:
        g = graph[0]
        lines.append(f"M = {g['m']}, ef_construction = {g['ef_construct']}; cells are "
                     "recall@10 / queries per second (1 thread)")
        lines.append("")
        lines += sweep_table(curves, efs)
        lines.append("")
        busy = [(r["engine"], r["ef"], r.get("cpu_busy_before", 0), r.get("runq_wait_share", 0))
                for r in graph if r.get("cpu_busy_before", 0) > 0.3 or r.get("runq_wait_share", 0) > 0.02]
        if busy:
            lines.append("Timed with other work on the machine (CPU busy share before the pass / "
                         "share of the best pass spent waiting for a CPU): "
                         + ", ".join(f"{e} ef {ef} ({b:.2f} / {w:.3f})" for e, ef, b, w in busy))
            lines.append("")

    # Build and memory, one row per index (raw variants share the index).
    built = {}
    for e, c in curves.items():
        if e.endswith("-raw") or "-raw-" in e:
            continue
        r = dict(c[0])
        # Peers store f32 vectors; their graph is the rest of the file.
        r.setdefault("code_bytes", r["f32_vector_bytes"])
        r.setdefault("graph_bytes", r["file_bytes"] - r["code_bytes"])
        built[e] = r
    f32_file = next((r["file_bytes"] for e, r in built.items() if e.startswith("fundus-f32")), None)
    mem_rows = []
    if built:
        lines.append("| index | build s | saved MiB | codes MiB | graph MiB | usearch memory_usage MiB | "
                     "RSS growth MiB | saved / Fundus f32 saved |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        for e, r in built.items():
            idx = r.get("index_bytes")
            ratio = f"{r['file_bytes'] / f32_file:.3f}" if f32_file else ""
            lines.append(
                f"| {e} | {r['build_s']:.1f} | {fmt_bytes(r['file_bytes'])} | {fmt_bytes(r['code_bytes'])} | "
                f"{fmt_bytes(r['graph_bytes'])} | {fmt_bytes(idx) if idx else ''} | "
                f"{fmt_bytes(r['rss_delta_bytes'])} | {ratio} |")
            mem_rows.append({k: r.get(k) for k in ("build_s", "file_bytes", "code_bytes", "graph_bytes",
                                                   "index_bytes", "rss_delta_bytes")} | {"index": e})
        lines.append(f"f32 vectors alone: {fmt_bytes(any_row['f32_vector_bytes'])} MiB")
        lines.append("")

    ratios = {}
    # Every rescored Fundus graph (f32 and quantized, each build) against
    # each peer.
    # Filtered runs (-filterP) answer a different question (the exact top-k
    # among 1/N of the rows); the peers ran unfiltered, so no ratio.
    for ours in [e for e in curves if e.startswith("fundus-") and "-raw" not in e and "-filter" not in e]:
        for peer in ("hnswlib", "faiss"):
            if peer not in curves:
                continue
            a, b = first_reaching(curves[ours]), first_reaching(curves[peer])
            entry = {}
            if a and b:
                entry["at_recall_0.95"] = {
                    "fundus_ef": a["ef"], "fundus_recall": a["recall"], "fundus_qps": a["qps"],
                    "peer_ef": b["ef"], "peer_recall": b["recall"], "peer_qps": b["qps"],
                    "ratio": a["qps"] / b["qps"],
                    "ratio_cpu_time": (a["qps_cpu"] / b["qps_cpu"]
                                       if a.get("qps_cpu") and b.get("qps_cpu") else None)}
            peer_by_ef = {r["ef"]: r for r in curves[peer]}
            entry["at_equal_ef"] = {
                str(r["ef"]): {"ratio": r["qps"] / peer_by_ef[r["ef"]]["qps"],
                               "ratio_cpu_time": (r["qps_cpu"] / peer_by_ef[r["ef"]]["qps_cpu"]
                                                  if r.get("qps_cpu") and peer_by_ef[r["ef"]].get("qps_cpu")
                                                  else None),
                               "fundus_recall": r["recall"],
                               "peer_recall": peer_by_ef[r["ef"]]["recall"]}
                for r in curves[ours] if r["ef"] in peer_by_ef}
            ratios[f"{ours}/{peer}"] = entry
    if ratios:
        lines.append("| ratio | at recall@10 >= 0.95 (ef ours / ef peer) | "
                     + " | ".join(f"ef {e}" for e in efs) + " |")
        lines.append("|---|---:|" + "---:|" * len(efs))
        for name, entry in ratios.items():
            at = entry.get("at_recall_0.95")
            cell = (f"**{at['ratio']:.2f}x** ({at['fundus_ef']} / {at['peer_ef']}; "
                    f"CPU time {at['ratio_cpu_time']:.2f}x)" if at else "not reached")
            eq = [f"{entry['at_equal_ef'][str(e)]['ratio']:.2f}x" if str(e) in entry["at_equal_ef"]
                  else "" for e in efs]
            lines.append(f"| {name} qps | {cell} | " + " | ".join(eq) + " |")
        lines.append("")

    # Quantized graphs against the f32 graph of the same build flavour.
    quant = {}
    for e, c in curves.items():
        for q in ("f16", "int8", "binary"):
            if not e.startswith(f"fundus-{q}"):
                continue
            base_name = "fundus-f32" + ("-portable" if e.endswith("-portable") else "")
            if base_name not in curves:
                continue
            f32_by_ef = {r["ef"]: r for r in curves[base_name]}
            first = first_reaching(c)
            quant[e] = {
                "recall_loss_vs_f32_by_ef": {str(r["ef"]): f32_by_ef[r["ef"]]["recall"] - r["recall"]
                                             for r in c if r["ef"] in f32_by_ef},
                "max_recall": max(r["recall"] for r in c),
                "first_ef_reaching_0.95": first["ef"] if first else None,
                "oversampling": c[0].get("oversampling"),
                "rescore": c[0].get("rescore"),
                "code_bytes_over_f32_vector_bytes": c[0]["code_bytes"] / c[0]["f32_vector_bytes"],
                "saved_bytes_over_f32_saved_bytes": (c[0]["file_bytes"] / built[base_name]["file_bytes"]
                                                     if base_name in built else None),
            }
    if quant:
        lines.append("| quantized graph | oversampling, rescore | recall loss vs f32 graph at each ef | "
                     "max recall | first ef >= 0.95 | codes / f32 vectors | saved index / f32 saved index |")
        lines.append("|---|---|---|---:|---:|---:|---:|")
        for e, qd in quant.items():
            losses = ", ".join(f"{k}: {v:+.4f}" for k, v in qd["recall_loss_vs_f32_by_ef"].items())
            idx = qd["saved_bytes_over_f32_saved_bytes"]
            lines.append(f"| {e} | {qd['oversampling']:g}, {'yes' if qd['rescore'] else 'no'} | {losses} | "
                         f"{qd['max_recall']:.4f} | {qd['first_ef_reaching_0.95'] or '-'} | "
                         f"{qd['code_bytes_over_f32_vector_bytes']:.3f} | "
                         f"{f'{idx:.2f}' if idx else ''} |")
        lines.append("")

    if flat:
        lines.append("Exact scan over codes (QuantizedFlatIndex), 1 thread:")
        lines.append("")
        lines.append("| quantization | bytes / vector | codes MiB | codes / f32 | oversampling | recall@10 rescored | recall@10 codes only | qps (rescored) |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        rescored = {r["engine"]: r for r in flat if not r["engine"].endswith("-raw")}
        raw = {r["engine"][:-4]: r for r in flat if r["engine"].endswith("-raw")}
        for e, r in rescored.items():
            n = r["n"]
            code = r["code_bytes"] if r["code_bytes"] else r["originals_bytes"]
            rr = raw.get(e)
            lines.append(f"| {e.removeprefix('fundus-flat-')} | {code / n:.1f} | {fmt_bytes(code)} | "
                         f"{code / r['f32_vector_bytes']:.3f} | {r['oversampling']:g} | {r['recall']:.4f} | "
                         f"{rr['recall']:.4f} |" if rr else
                         f"| {e.removeprefix('fundus-flat-')} | {code / n:.1f} | {fmt_bytes(code)} | "
                         f"{code / r['f32_vector_bytes']:.3f} | {r['oversampling']:g} | {r['recall']:.4f} | "
                         f"(exact) |")
            lines[-1] += f" {r['qps']:.0f} |"
        lines.append("")

    svg = None
    if svg_dir and curves:
        svg = os.path.join(svg_dir, f"recall-qps-{dataset}.svg")
        write_svg(svg, dataset, curves)
    return lines, {"sweep": {e: [{"ef": r["ef"], "recall": r["recall"], "qps": r["qps"],
                                  "qps_cpu": r.get("qps_cpu"), "runq_wait_share": r.get("runq_wait_share"),
                                  "cpu_busy_before": r.get("cpu_busy_before")} for r in c]
                             for e, c in curves.items()},
                   "build_and_memory": mem_rows, "ratios": ratios, "quantized_graphs": quant,
                   "flat": flat, "svg": os.path.basename(svg) if svg else None}


def write_svg(path, title, curves):
    """Recall (x, from 0.7 up; points below are left out) against queries/s
    (y, log scale), one polyline per engine; codes-only (-raw) curves are
    left out."""
    import re

    curves = {e: [r for r in c if r["recall"] >= 0.7] for e, c in curves.items() if "-raw" not in e}
    curves = {e: c for e, c in curves.items() if c}
    w, h, ml, mr, mt, mb = 760, 480, 70, 230, 40, 50
    pts = [(r["recall"], r["qps"]) for c in curves.values() for r in c]
    x0 = max(0.7, math.floor(min(p[0] for p in pts) * 20) / 20)
    x1 = 1.0
    y0 = 10 ** math.floor(math.log10(min(p[1] for p in pts)))
    y1 = 10 ** math.ceil(math.log10(max(p[1] for p in pts)))
    sx = lambda x: ml + (x - x0) / (x1 - x0) * (w - ml - mr)
    sy = lambda y: mt + (math.log10(y1) - math.log10(y)) / (math.log10(y1) - math.log10(y0)) * (h - mt - mb)
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
         f'<rect width="{w}" height="{h}" fill="white"/>',
         f'<text x="{ml}" y="22" font-size="14">{title}: recall@10 vs queries/s (1 thread, log scale)</text>']
    x = x0
    while x <= x1 + 1e-9:
        s.append(f'<line x1="{sx(x):.1f}" y1="{mt}" x2="{sx(x):.1f}" y2="{h - mb}" stroke="#ddd"/>')
        s.append(f'<text x="{sx(x):.1f}" y="{h - mb + 16}" text-anchor="middle">{x:.2f}</text>')
        x += 0.05
    y = y0
    while y <= y1 * 1.0001:
        s.append(f'<line x1="{ml}" y1="{sy(y):.1f}" x2="{w - mr}" y2="{sy(y):.1f}" stroke="#ddd"/>')
        s.append(f'<text x="{ml - 6}" y="{sy(y) + 4:.1f}" text-anchor="end">{y:g}</text>')
        y *= 10
    s.append(f'<line x1="{sx(TARGET):.1f}" y1="{mt}" x2="{sx(TARGET):.1f}" y2="{h - mb}" stroke="#999" stroke-dasharray="4 3"/>')
    s.append(f'<text x="{(ml + w - mr) / 2}" y="{h - 12}" text-anchor="middle">recall@10</text>')
    s.append(f'<text x="16" y="{(mt + h - mb) / 2}" transform="rotate(-90 16 {(mt + h - mb) / 2})" '
             'text-anchor="middle">queries / s</text>')
    for i, (name, c) in enumerate(curves.items()):
        colour = COLOURS.get(re.sub(r"-os[0-9.]+", "", name), "#bcbd22")
        dash = ' stroke-dasharray="2 2"' if "-os" in name else ""
        p = " ".join(f"{sx(r['recall']):.1f},{sy(r['qps']):.1f}" for r in c)
        s.append(f'<polyline points="{p}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        for r in c:
            s.append(f'<circle cx="{sx(r["recall"]):.1f}" cy="{sy(r["qps"]):.1f}" r="3" fill="{colour}"/>')
        ly = mt + 10 + i * 18
        s.append(f'<line x1="{w - mr + 12}" y1="{ly}" x2="{w - mr + 36}" y2="{ly}" stroke="{colour}" stroke-width="2"{dash}/>')
        s.append(f'<text x="{w - mr + 42}" y="{ly + 4}">{name}</text>')
    s.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(s) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--svg-dir")
    ap.add_argument("--note", default="", help="free text stored with the results")
    args = ap.parse_args()
    rows = load(args.inputs)
    by_dataset = defaultdict(list)
    for r in rows:
        by_dataset[r["dataset"]].append(r)
    result = {"note": args.note, "datasets": {}}
    if os.path.exists(args.out):
        # Keep data sets of earlier runs that this report does not cover.
        with open(args.out) as f:
            try:
                result["datasets"].update(json.load(f).get("datasets", {}))
            except json.JSONDecodeError:
                pass
    for dataset, drows in by_dataset.items():
        lines, summary = analyse(dataset, drows, args.svg_dir)
        print("\n".join(lines))
        summary["lines"] = drows
        result["datasets"][dataset] = summary
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
