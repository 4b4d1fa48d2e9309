"""``bnlab data list | info NAME | fetch NAME``: where the datasets are, what they hold, download.

- ``bnlab data list``: each dataset and the folder it was found in (or how to get it);
- ``bnlab data info NAME [--path DIR]``: load it and print the split sizes, shapes, classes;
- ``bnlab data fetch fashion-mnist|mnist|cifar10 [--dir DIR] [--mirror URL]``: download it
  with checksums verified (to ``$BNLAB_DATA`` or ``~/.cache/bnlab`` by default; without
  ``--dir``, Fashion-MNIST installed by Debian's ``dataset-fashion-mnist`` is used as it is).
  ``BNLAB_MIRROR=URL`` fetches ``URL/<name>/<file>`` for every dataset.
"""

from __future__ import annotations

import argparse

from bnlab.commands.arguments import UsageError

HELP = "list, inspect or download the datasets (fetch fashion-mnist|mnist|cifar10)"

FILE_DATASETS = ("fashion-mnist", "mnist", "cifar10")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("list", help="where each dataset was found")
    info = actions.add_parser("info", help="load a dataset and show its splits and shapes")
    info.add_argument("name", help="bundled, fashion-mnist, mnist, cifar10 or synthetic")
    info.add_argument("--path", default=None, help="folder with the dataset files")
    fetch = actions.add_parser("fetch", help="download a dataset, checksums verified")
    fetch.add_argument("name", choices=FILE_DATASETS)
    fetch.add_argument("--dir", default=None, help="root folder (default: $BNLAB_DATA or cache)")
    fetch.add_argument("--mirror", default=None, help="fetch MIRROR/<file> instead (a base URL)")
    fetch.add_argument("--no-progress", action="store_true", help="no progress bar")


def _list() -> int:
    from bnlab.data import locate

    print(f"{'bundled':<14} shipped with bnlab (a 9000-image Fashion-MNIST subset)")
    print(f"{'synthetic':<14} made on the spot")
    for name in FILE_DATASETS:
        folder = locate.find(name)
        where = str(folder) if folder else f"not found; {locate.DATASET_FILES[name].how_to_get[-1]}"
        print(f"{name:<14} {where}")
    return 0


def _info(name: str, path: str | None) -> int:
    import numpy as np

    from bnlab.data import load_dataset

    data = load_dataset(name, path=path)
    classes = data["class_names"]
    print(f"{name}: {len(classes)} classes: {', '.join(classes)}")
    for split in ("train", "val", "test"):
        X, y = data[f"X_{split}"], data[f"y_{split}"]
        per_class = np.bincount(y, minlength=len(classes))
        print(
            f"  {split:<5} X {X.shape} {X.dtype} in [{X.min():.2f}, {X.max():.2f}]; "
            f"y {y.shape} {y.dtype}, {per_class.min()}..{per_class.max()} per class"
        )
    return 0


def run(args: argparse.Namespace) -> int:
    if args.action is None:
        raise UsageError("choose an action: list, info NAME or fetch NAME")
    # errors (a missing dataset, a failed download) are reported by bnlab.cli.main
    if args.action == "list":
        return _list()
    if args.action == "info":
        return _info(args.name, args.path)
    from bnlab.data import fetch

    folder = fetch(args.name, args.dir, base_url=args.mirror, progress=not args.no_progress)
    print(f"{args.name}: ready in {folder}")
    return 0
