"""Time `numass compare` on this machine: wall time, CPU time (all worker processes), per task.

    python benchmarks/bench_compare.py                       # embedded data, full settings
    python benchmarks/bench_compare.py --quick
    python benchmarks/bench_compare.py --data full --only lcdm,tau_low   # part of the full data

Writes OUT/benchmark.json and prints a table: per task its wall time, sampler, likelihood calls
and (nautilus) the seconds of each stage (best fit, nested sampling, profiles, tails, plots).
The targets (issue 13): the full comparison (default settings) <= 15 minutes on 2 cores, --quick
<= 3 minutes, the embedded data <= 1 minute. The machine's load average is recorded too: on a
shared machine the wall time grows with the other users' load, the CPU time does not (much);
"CPU / 2" is the wall time two otherwise idle cores would need if the tasks kept both busy.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="embedded")
    ap.add_argument("--out", default="bench-compare")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default=None)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--sampler", default="auto", choices=["auto", "nautilus", "mcmc"])
    args = ap.parse_args()
    os.environ.setdefault("MPLBACKEND", "Agg")

    from numass.compare.collect import format_table
    from numass.compare.plan import Settings
    from numass.compare.run import run_comparison
    from numass.report.compare_report import write_report

    load_before = os.getloadavg()
    t0 = time.time()
    summary = run_comparison(data=args.data, out=args.out,
                             settings=Settings.make(quick=args.quick, sampler=args.sampler),
                             workers=args.jobs,
                             only=[n for n in args.only.split(",")] if args.only else None).summary
    out = Path(args.out)
    t_report = time.time()
    write_report(summary, out)  # part of the timed run, as `numass compare` does
    wall = time.time() - t0
    report_seconds = time.time() - t_report
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    tasks = {}
    for state_file in (sorted(out.glob("*/job.json")) + sorted(out.glob("*/evidence.json"))
                       + sorted(out.glob("*/camb.json"))):
        s = json.loads(state_file.read_text())
        run = {}
        if s.get("part", "posterior") == "posterior":
            try:
                run = json.loads((state_file.parent / "summary.json").read_text())
            except (OSError, ValueError):
                pass
        tasks[f"{state_file.parent.name}/{s.get('part', 'posterior')}"] = {
            "wall_seconds": s.get("wall_seconds"), "status": s.get("status", "")[:80],
            "sampler": run.get("sampler", "mcmc" if run else None),
            "n_calls": s.get("n_calls") or run.get("n_calls"),
            "stage_seconds": run.get("stage_seconds"),
            "tail_runs": {k: v.get("n_calls") for k, v in run.get("tail_runs", {}).items()}}
    record = {"data": args.data, "quick": args.quick, "only": args.only, "workers": args.jobs,
              "wall_seconds": round(wall, 1), "report_seconds": round(report_seconds, 1),
              "cpu_seconds": round(own.ru_utime + own.ru_stime + children.ru_utime
                                   + children.ru_stime, 1),
              "cores": os.cpu_count(), "load_average_before": load_before,
              "load_average_after": os.getloadavg(), "tasks": tasks}
    (out / "benchmark.json").write_text(json.dumps(record, indent=1))
    print(format_table(summary))
    print(f"wall {record['wall_seconds']} s, CPU {record['cpu_seconds']} s on {record['cores']} "
          f"cores (CPU / 2 = {record['cpu_seconds'] / 2:.0f} s; load average before "
          f"{load_before[0]:.1f}, after {record['load_average_after'][0]:.1f})")
    for k, v in tasks.items():
        stages = ", ".join(f"{s} {t:.0f}" for s, t in (v["stage_seconds"] or {}).items())
        print(f"  {k:<32} {v['wall_seconds']!s:>8} s  {v['sampler'] or ''} {v['n_calls'] or ''} "
              f"calls {v['tail_runs'] or ''} [{stages}] {v['status']}")


if __name__ == "__main__":
    main()
