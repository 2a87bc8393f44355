"""`numass data list | verify | fetch`."""
from __future__ import annotations

from numass.data.registry import datasets, get_dataset
from numass.data.store import data_dir, status
from numass.errors import NumassError


def cmd_list(override=None) -> int:
    root = data_dir(override)
    print(f"data directory: {root}")
    print(f"{'id':<22} {'state':<11} {'files':>5}  citation")
    for ds in datasets().values():
        st = status(ds.id, override)
        print(f"{ds.id:<22} {st['state']:<11} {len(ds.files):>5}  {ds.citation}")
    return 0


def cmd_verify(ids=None, override=None) -> int:
    bad = 0
    for ds_id in ids or list(datasets()):
        ds = get_dataset(ds_id)
        st = status(ds.id, override)
        if st["state"] == "missing" and not ids:
            print(f"{ds.id}: not present (skipped)")
            continue
        if st["state"] == "present":
            print(f"{ds.id}: OK ({len(ds.files)} files, sha256 verified)")
            continue
        bad += 1
        print(f"{ds.id}: {st['state'].upper()}")
        for f in st["corrupt"]:
            print(f"  corrupt: {f}")
        for f in st["missing"]:
            print(f"  missing: {f}")
        print(f"  fix: numass data fetch {ds.id}")
    return 1 if bad else 0


def cmd_fetch(ids=None, all_=False, override=None) -> int:
    from numass.data.fetch import fetch

    targets = list(datasets()) if all_ else list(ids or [])
    if not targets:
        raise NumassError("name the data sets to fetch (see `numass data list`) or use --all")
    for ds_id in targets:
        fetch(ds_id, override)
    return cmd_verify(targets, override)


def add_data_parser(subparsers) -> None:
    p = subparsers.add_parser("data", help="list, verify or fetch the public data sets")
    sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    for name, helptext in (("list", "each data set and whether it is present and intact"),
                           ("verify", "check every file's sha256"),
                           ("fetch", "download from the official sources (sha256-checked)")):
        q = sub.add_parser(name, help=helptext)
        q.add_argument("--data-dir", default=None, help="data directory (default: "
                       "$NUMASS_DATA_DIR, else the user cache directory)")
        if name != "list":
            q.add_argument("ids", nargs="*", help="data set ids (default: all)")
        if name == "fetch":
            q.add_argument("--all", action="store_true", help="fetch every data set")
    p.set_defaults(func=_dispatch)


def _dispatch(args) -> int:
    if args.data_command == "list":
        return cmd_list(args.data_dir)
    if args.data_command == "verify":
        return cmd_verify(args.ids, args.data_dir)
    return cmd_fetch(args.ids, args.all, args.data_dir)
