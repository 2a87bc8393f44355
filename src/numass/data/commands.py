"""`numass data list | verify | fetch`: functions the CLI calls, and the argparse wiring."""
from __future__ import annotations

from numass.data.registry import datasets
from numass.data.store import data_dir, status, verify
from numass.errors import InputError


def cmd_list(override=None) -> int:
    """Print each data set: id, state, number of files, citation."""
    print(f"data directory: {data_dir(override)}")
    print(f"{'id':<20} {'state':<8} {'files':>5}  citation")
    for ds in datasets().values():
        st = status(ds.id, override)
        print(f"{ds.id:<20} {st['state']:<8} {len(ds.files):>5}  {ds.citation}")
        if ds.partial:
            print(f"{'':<20} partial data set: {ds.partial}")
    return 0


def cmd_verify(ids=None, override=None) -> int:
    """Check sizes and sha256 sums; 0 if every requested present data set is intact, else 1.

    With no ids, data sets absent from the data directory are skipped; a named one that is
    absent counts as a failure.
    """
    print(f"data directory: {data_dir(override)}")
    bad = checked = 0
    for ds_id, st in verify(ids or None, override).items():
        n = len(datasets()[ds_id].files)
        if st["state"] == "missing" and not ids:
            print(f"{ds_id}: not present (skipped)")
            continue
        checked += 1
        if st["state"] == "present":
            print(f"{ds_id}: OK ({n} files, size and sha256 verified)")
            continue
        bad += 1
        print(f"{ds_id}: {st['state'].upper()} in {st['folder']}")
        for path in st["corrupt"]:
            print(f"  corrupt: {path} ({st['problems'][path]})")
        for path in st["missing"]:
            print(f"  missing: {path}")
        print(f"  fix: numass data fetch {ds_id}")
    if not checked:
        print("no data set present: run `numass data fetch --all`, or set --data-dir / "
              "$NUMASS_DATA_DIR to a folder that holds them")
    return 1 if bad else 0


def cmd_fetch(ids=None, all_=False, override=None) -> int:
    """Download the named data sets (or all); then verify them. DataError when offline."""
    from numass.data.fetch import fetch

    if all_ and ids:
        raise InputError("give data set ids or --all, not both")
    if not all_ and not ids:
        raise InputError("name the data sets to fetch (see `numass data list`) or use --all")
    targets = list(datasets()) if all_ else list(ids)
    for ds_id in targets:
        if ds_id not in datasets():
            raise InputError(f"unknown data set '{ds_id}'; known: {', '.join(datasets())}")
    if all_:
        fetch("all", override)
    else:
        for ds_id in targets:
            fetch(ds_id, override)
    return cmd_verify(targets, override)


def add_data_parser(subparsers) -> None:
    """Add `data list|verify|fetch`, each with --data-dir, to an argparse subparsers object."""
    p = subparsers.add_parser("data", help="list, verify or fetch the public data sets")
    sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    actions = (("list", "each data set and whether it is present and intact", _run_list),
               ("verify", "check every file's size and sha256", _run_verify),
               ("fetch", "download from the official sources (sha256-checked)", _run_fetch))
    for name, helptext, func in actions:
        q = sub.add_parser(name, help=helptext)
        q.add_argument("--data-dir", default=None, help="data directory (default: "
                       "$NUMASS_DATA_DIR, else the user cache directory)")
        if name != "list":
            q.add_argument("ids", nargs="*", help="data set ids (default for verify: all)")
        if name == "fetch":
            q.add_argument("--all", action="store_true", help="fetch every data set")
        q.set_defaults(func=func)


def _run_list(args) -> int:
    return cmd_list(args.data_dir)


def _run_verify(args) -> int:
    return cmd_verify(args.ids, args.data_dir)


def _run_fetch(args) -> int:
    return cmd_fetch(args.ids, args.all, args.data_dir)
