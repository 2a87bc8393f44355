"""`numass compare`: the six hypotheses weighed on the same data (docs/compare.md).

- ``hypotheses``: the hypotheses (one record each), the data combinations, the τ ladder;
- ``plan``: the jobs of a comparison (hypotheses, τ ladder, robustness variants) and settings;
- ``tasks``: one job's posterior, evidence or CAMB-check task, run in its folder, resumable;
- ``camb_check``: the emulator's best fit and profile points re-evaluated and refined with CAMB;
- ``executor``: the tasks handed out by a standard executor (local processes, or MPI ranks);
- ``collect``: DIR/summary.json from the tasks' results; ``verdicts``, ``claims``: the words
  and the review's claims, from named thresholds; ``provenance``: citations, priors, versions.

``run.run_comparison`` plans, runs (resuming) and collects a comparison and returns a
``ComparisonResult``; the report (numass.report.compare_report) is drawn from its summary.
"""

# the entry point is numass.compare.run.run_comparison; this package imports nothing heavy, so
# that the command line can read the hypotheses table (compare.hypotheses) at once

# the executors of `numass compare --executor` (numass.compare.executor)
EXECUTORS = ("local", "mpi")
