#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench_report.py - turn tools/bench's raw results into tables, JSON and a chart.

  bench_report.py value FILE
      print the headline number(s) of one raw result (<fio-test>.json or
      mdbench.json, told apart by the file name); tools/bench uses it for its
      progress lines. Exit 1 if the file holds no result.

  bench_report.py report --raw DIR --out DIR [--wall SECONDS] [--ref LABEL]
                         [--set KEY=VALUE ...]
      read DIR/targets.tsv and DIR/<label>/rep<N>/<test>.json, write
      bench.txt (the tables), bench.json, bench.dat + bench.gp and, when gnuplot
      is installed, bench.png into --out; print the tables.

Raw layout (written by tools/bench):
  targets.tsv               label<TAB>kind<TAB>mount options[<TAB>description];
                            kind is tmpfs, disk (a directory on the local
                            disk), valorfs (a mem mount) or cluster
  <label>/rep<N>/<fio-test>.json   fio --output-format=json of one test
  <label>/rep<N>/mdbench.json      mdbench --json
  <label>/rep<N>/<name>.err        why <name> has no result (a failed run)

Each cell is the median over the reps that produced a number; a test with no
number in any rep shows "FAIL". Tables, each shown when its targets exist:
  1. every target's medians; valorfs and cluster cells also carry the ratio
     to tmpfs;
  2. valorfs and cluster targets / disk, the file system the clusters'
     storage targets are on;
  3. mem engines / --ref (default "clone");
  4. with several clusters, each / the first one;
  5. with several reps, the spread.
Every ratio is of medians from the same run; higher is better for every test.
"""
import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys

# (name, unit, raw file stem, how to read the number)
FIO_TESTS = [
    ("seqwrite-1M", "MB/s", "seqwrite", ("write", "bw")),
    ("seqread-1M", "MB/s", "seqread", ("read", "bw")),
    ("randread-4k-j1", "IOPS", "randread-j1", ("read", "iops")),
    ("randread-4k-j4", "IOPS", "randread-j4", ("read", "iops")),
    ("randwrite-4k-j1", "IOPS", "randwrite-j1", ("write", "iops")),
    ("randwrite-4k-j4", "IOPS", "randwrite-j4", ("write", "iops")),
]
MD_PHASES = ["dir-create", "file-create", "dir-stat", "file-stat",
             "file-open", "file-remove", "dir-remove"]
TESTS = [(n, u) for n, u, _, _ in FIO_TESTS] + \
        [("md-" + p, "ops/s") for p in MD_PHASES]


def load_json(path):
    """fio may print warnings before its JSON: start at the first brace."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    start = text.find("{")
    if start < 0:
        raise ValueError("no JSON in %s" % path)
    return json.loads(text[start:])


def fio_value(doc, how):
    """MB/s (10^6 bytes) or IOPS of a group_reporting fio run, or None."""
    jobs = doc.get("jobs") or []
    if not jobs:
        return None
    job = jobs[0]
    if job.get("error"):
        return None
    direction, kind = how
    d = job.get(direction) or {}
    if kind == "bw":
        return d.get("bw_bytes", 0) / 1e6
    return d.get("iops")


def read_rep(repdir):
    """{test name: number} for one rep directory (missing = failed)."""
    out = {}
    for name, _, stem, how in FIO_TESTS:
        path = os.path.join(repdir, stem + ".json")
        if os.path.exists(path):
            try:
                v = fio_value(load_json(path), how)
            except (ValueError, OSError):
                v = None
            if v is not None:
                out[name] = v
    path = os.path.join(repdir, "mdbench.json")
    if os.path.exists(path):
        try:
            phases = load_json(path).get("phases", {})
        except (ValueError, OSError):
            phases = {}
        for p in MD_PHASES:
            if p in phases:
                out["md-" + p] = phases[p]["ops_per_sec"]
    return out


def read_errors(repdir):
    errs = {}
    if not os.path.isdir(repdir):
        return errs
    for fn in sorted(os.listdir(repdir)):
        if fn.endswith(".err"):
            with open(os.path.join(repdir, fn), errors="replace") as f:
                errs[fn[:-4]] = f.read().strip()
    return errs


def fmt_num(v):
    if v is None:
        return "FAIL"
    if v >= 100:
        return "{:,.0f}".format(v)
    if v >= 10:
        return "{:,.1f}".format(v)
    return "{:,.2f}".format(v)


def fmt_ratio(r):
    if r is None:
        return "-"
    if r >= 100:
        return "%.0fx" % r
    if r >= 10:
        return "%.1fx" % r
    if r >= 0.1:
        return "%.2fx" % r
    return "%.3fx" % r


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def render_table(header, rows, right_from=2):
    """A markdown table with padded columns (readable as text too)."""
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    def line(cells):
        out = []
        for i, c in enumerate(cells):
            out.append(c.rjust(widths[i]) if i >= right_from else c.ljust(widths[i]))
        return "| " + " | ".join(out) + " |"
    sep = "|" + "|".join(
        ("-" * (widths[i] + 1) + ":") if i >= right_from else "-" * (widths[i] + 2)
        for i in range(len(header))) + "|"
    return "\n".join([line(header), sep] + [line(r) for r in rows])


def gnuplot_chart(out, tests, labels, mounts, med, tmpfs, disk):
    """Write bench.dat/bench.gp; run gnuplot if present. Returns a note.

    Panels: every target's absolute numbers; the mounts / tmpfs (when tmpfs
    was measured); the mounts / disk (when disk was). A panel without a single
    number is left out (gnuplot refuses to plot it)."""
    def ratios_to(r):
        rats = [ratio(med[l].get(t), med[r].get(t)) for l in mounts for t, _ in tests]
        return [x for x in rats if x]
    png = os.path.join(out, "bench.png")
    if os.path.exists(png):
        os.remove(png)  # not to leave an earlier run's chart beside this run's tables
    vals = [v for l in labels for v in med[l].values() if v]
    if not vals:
        return "note: no test produced a number; no bench.png"
    refs = [r for r in (tmpfs, disk) if r and ratios_to(r)]
    dat = os.path.join(out, "bench.dat")
    with open(dat, "w") as f:
        f.write("test " + " ".join('"%s"' % l for l in labels))
        for r in refs:
            f.write(" " + " ".join('"%s/%s"' % (l, r) for l in mounts))
        f.write("\n")
        for name, unit in tests:
            cells = []
            for l in labels:
                v = med[l].get(name)
                cells.append("%.6g" % v if v else "?")
            for r in refs:
                for l in mounts:
                    x = ratio(med[l].get(name), med[r].get(name))
                    cells.append("%.6g" % x if x else "?")
            f.write('"%s\\n(%s)" %s\n' % (name, unit, " ".join(cells)))

    n = len(labels)
    panels = 1 + len(refs)
    # Log axes from a decade below the smallest bar, so every bar shows.
    def decade_below(x):
        return 10 ** math.floor(math.log10(x) - 0.3)
    abs_range = "[%g:%g]" % (decade_below(min(vals)), max(vals) * 3)
    gp = os.path.join(out, "bench.gp")
    with open(gp, "w") as f:
        f.write("""# generated by tools/bench_report.py; gnuplot bench.gp -> bench.png
set terminal pngcairo size 1500,%d font "sans,10" noenhanced
set output "%s"
set datafile missing "?"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set grid ytics mytics lc rgb "#dddddd"
set xtics rotate by -30 left font "sans,9" nomirror
set key outside right top
set format y "%%.0s%%c"
set lmargin 10
set rmargin 18
set bmargin 7
set linetype 1 lc rgb "#888888"
set linetype 2 lc rgb "#555555"
set linetype 3 lc rgb "#1f77b4"
set linetype 4 lc rgb "#ff7f0e"
set linetype 5 lc rgb "#2ca02c"
set linetype 6 lc rgb "#d62728"
set linetype 7 lc rgb "#9467bd"
set linetype 8 lc rgb "#8c564b"
set linetype 9 lc rgb "#e377c2"
set linetype 10 lc rgb "#17becf"
set linetype 11 lc rgb "#bcbd22"
""" % (520 * panels, png))
        if panels > 1:
            f.write("set multiplot layout %d,1\n" % panels)
        f.write('set title "valorfs make bench: absolute results '
                '(MB/s, IOPS, ops/s; log scale; higher is better; no bar = FAIL)"\n')
        f.write('set ylabel "MB/s | IOPS | ops/s"\n')
        f.write("set yrange %s\n" % abs_range)
        f.write("plot for [i=2:%d] '%s' using i:xtic(1) title columnheader(i)\n"
                % (n + 1, dat))
        first = n + 2
        # The mounts keep their colours of the first panel.
        shift = first - 1 - (n - len(mounts))
        for r in refs:
            rats = ratios_to(r)
            rat_range = "[%g:%g]" % (decade_below(min(rats)), max(2.0, max(rats) * 2))
            f.write('set title "valorfs / %s (log scale; 1 = as fast as %s)"\n' % (r, r))
            f.write('set ylabel "ratio to %s"\n' % r)
            f.write("set yrange %s\n" % rat_range)
            f.write('set format y "%g"\n')
            f.write("unset arrow\n")
            f.write("set arrow from graph 0, first 1 to graph 1, first 1 "
                    "nohead lw 2 lc rgb '#cc0000'\n")
            f.write("plot for [i=%d:%d] '%s' using i:xtic(1) title columnheader(i) "
                    "lt (i - %d)\n" % (first, first + len(mounts) - 1, dat, shift))
            first += len(mounts)
            shift += len(mounts)
        if panels > 1:
            f.write("unset multiplot\n")
    if not shutil.which("gnuplot"):
        return "note: gnuplot not installed; skipped bench.png (make deps installs gnuplot-nox)"
    r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    if r.returncode != 0:
        return "note: gnuplot failed (%s); no bench.png" % r.stderr.strip()[:300]
    return None


def ratio_table(lines, title, cols, ref_of, tests, med):
    """Append a "label/ref" table; returns {label: {test: ratio}}."""
    out = {}
    lines.append("")
    lines.append(title)
    header = ["test"] + ["%s/%s" % (l, ref_of(l)) for l in cols]
    rows = []
    for name, _ in tests:
        row = [name]
        for l in cols:
            r = ratio(med[l][name], med[ref_of(l)][name])
            out.setdefault(l, {})[name] = r
            row.append(fmt_ratio(r))
        rows.append(row)
    lines.append(render_table(header, rows, right_from=1))
    return out


def read_targets(raw):
    """[(label, kind, options, description)] from targets.tsv."""
    targets = []
    with open(os.path.join(raw, "targets.tsv")) as f:
        for ln in f:
            ln = ln.rstrip("\n")
            if ln:
                label, kind, opts, what = (ln.split("\t") + ["", "", ""])[:4]
                if not what:
                    what = {"tmpfs": "tmpfs directly", "disk": "the local disk",
                            "valorfs": "valorfs mem",
                            "cluster": "valorfs cluster"}.get(kind, kind)
                targets.append((label, kind, opts, what))
    return targets


def describe(target):
    label, kind, opts, what = target
    if kind in ("valorfs", "cluster"):
        what += ", valorfs -o " + (opts or "(defaults)")
    return "%s = %s" % (label, what)


def report(args):
    raw, out = args.raw, args.out
    os.makedirs(out, exist_ok=True)
    targets = read_targets(raw)
    labels = [t[0] for t in targets]
    kinds = {t[0]: t[1] for t in targets}
    tmpfs = next((l for l in labels if kinds[l] == "tmpfs"), None)
    disk = next((l for l in labels if kinds[l] == "disk"), None)
    vfs = [l for l in labels if kinds[l] == "valorfs"]
    clusters = [l for l in labels if kinds[l] == "cluster"]
    mounts = [l for l in labels if kinds[l] in ("valorfs", "cluster")]

    tests = TESTS
    if args.tests:
        want = set(args.tests.split())
        tests = [(n, u) for n, u, stem, _ in FIO_TESTS if stem in want] + \
            ([("md-" + p, "ops/s") for p in MD_PHASES] if "mdbench" in want else [])

    reps, med, spread, errors = {}, {}, {}, {}
    for label in labels:
        tdir = os.path.join(raw, label)
        repdirs = sorted((d for d in os.listdir(tdir)
                          if d.startswith("rep") and d[3:].isdigit()),
                         key=lambda d: int(d[3:])) if os.path.isdir(tdir) else []
        per = [read_rep(os.path.join(tdir, d)) for d in repdirs]
        errors[label] = {d: e for d in repdirs
                         for e in [read_errors(os.path.join(tdir, d))] if e}
        reps[label], med[label], spread[label] = {}, {}, {}
        for name, _ in tests:
            vals = [p[name] for p in per if name in p]
            reps[label][name] = vals
            med[label][name] = statistics.median(vals) if vals else None
            spread[label][name] = ((max(vals) - min(vals)) / med[label][name]
                                   if len(vals) > 1 and med[label][name] else None)

    nreps = max((len(v) for l in labels for v in reps[l].values()), default=0)
    lines = []
    title = "valorfs make bench"
    if nreps > 1:
        title += " (medians of %d reps)" % nreps
    if tmpfs and mounts:
        title += "; valorfs and cluster cells: value (ratio vs tmpfs)"
    lines.append(title)
    header = ["test", "unit"] + labels
    rows = []
    for name, unit in tests:
        row = [name, unit]
        for l in labels:
            v = med[l][name]
            cell = fmt_num(v)
            if l in mounts and tmpfs and v is not None:
                cell += " (%s)" % fmt_ratio(ratio(v, med[tmpfs][name]))
            row.append(cell)
        rows.append(row)
    lines.append(render_table(header, rows))

    disk_ratios = {}
    if disk and mounts:
        what = next(t[3] for t in targets if t[0] == disk)
        disk_ratios = ratio_table(
            lines, "Against %s = %s, where the clusters' storage targets and "
            "metadata live: ratio of medians, >1 = faster than %s"
            % (disk, what, disk), mounts, lambda l: disk, tests, med)

    ref = args.ref if args.ref in vfs else (vfs[0] if vfs else None)
    others = [l for l in vfs if l != ref]
    eng_ratios = {}
    if ref and others:
        note = "" if ref == args.ref else " (%s not measured)" % args.ref
        eng_ratios = ratio_table(
            lines, "Engines (valorfs mem) vs %s%s: ratio of medians, >1 = faster "
            "than %s" % (ref, note, ref), others, lambda l: ref, tests, med)
    elif len(vfs) == 1:
        lines.append("")
        lines.append("(one valorfs mem target only: no engine-vs-engine table)")

    cluster_ratios = {}
    if len(clusters) > 1:
        cluster_ratios = ratio_table(
            lines, "Clusters vs %s: ratio of medians, >1 = faster than %s"
            % (clusters[0], clusters[0]), clusters[1:],
            lambda l: clusters[0], tests, med)

    if nreps > 1:
        lines.append("")
        lines.append("Spread of the reps, (max-min)/median; treat differences "
                     "under ~1.5x as noise on this 2-vCPU machine")
        header3 = ["test"] + labels
        rows3 = [[name] + ["-" if spread[l][name] is None else
                           "%.0f%%" % (100 * spread[l][name]) for l in labels]
                 for name, _ in tests]
        lines.append(render_table(header3, rows3, right_from=1))

    failed = [(l, d, k, e) for l in labels for d, errs in errors[l].items()
              for k, e in errs.items()]
    if failed:
        lines.append("")
        lines.append("Failures:")
        for l, d, k, e in failed:
            lines.append("  %s %s %s: %s" % (l, d, k, e.splitlines()[0] if e else "?"))

    cfg = dict(kv.split("=", 1) for kv in args.set)
    lines.append("")
    if cfg:
        lines.append("Config: " + ", ".join("%s=%s" % kv for kv in cfg.items()))
    lines.append("Targets: " + "; ".join(describe(t) for t in targets))
    if args.wall is not None:
        lines.append("Wall time (until this report): %dm%02ds"
                     % (int(args.wall) // 60, int(args.wall) % 60))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "bench.txt"), "w") as f:
        f.write(text)

    doc = {
        "config": cfg,
        "wall_seconds": args.wall,
        "targets": [{"label": l, "kind": k, "options": o, "description": w}
                    for l, k, o, w in targets],
        "tests": [{"name": n, "unit": u} for n, u in tests],
        "reps": reps,
        "median": med,
        "spread": spread,
        "ratio_vs_tmpfs": {l: {n: ratio(med[l][n], med[tmpfs][n]) for n, _ in tests}
                           for l in mounts} if tmpfs else {},
        "ratio_vs_disk": disk_ratios,
        "engine_ref": ref,
        "ratio_vs_ref": eng_ratios,
        "cluster_ref": clusters[0] if len(clusters) > 1 else None,
        "ratio_vs_cluster_ref": cluster_ratios,
        "errors": errors,
    }
    with open(os.path.join(out, "bench.json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")

    sys.stdout.write(text)
    note = gnuplot_chart(out, tests, labels, mounts, med, tmpfs, disk)
    if note:
        print(note)
    return 1 if failed else 0


def value(args):
    stem = os.path.basename(args.file)[:-len(".json")]
    try:
        doc = load_json(args.file)
    except (ValueError, OSError) as e:
        print("?")
        return 1
    if stem == "mdbench":
        ph = doc.get("phases", {})
        print(" ".join("%s=%s" % (p, fmt_num(ph[p]["ops_per_sec"]))
                       for p in MD_PHASES if p in ph))
        return 0
    for name, unit, s, how in FIO_TESTS:
        if s == stem:
            v = fio_value(doc, how)
            print("%s %s" % (fmt_num(v), unit))
            return 0 if v is not None else 1
    print("?")
    return 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("value")
    v.add_argument("file")
    r = sub.add_parser("report")
    r.add_argument("--raw", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--wall", type=float, default=None)
    r.add_argument("--ref", default="clone")
    r.add_argument("--tests", default="",
                   help="tools/bench's BENCH_TESTS: the rows to show (default all)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    return report(args) if args.cmd == "report" else value(args)


if __name__ == "__main__":
    sys.exit(main())
