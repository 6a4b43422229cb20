"""``circlearn data synth | inspect``: make synthetic YouTube-8M files, or check real ones.

Examples::

    circlearn data synth --out /tmp/yt8m --seed 0 --rgb-size 128 --audio-size 16
    circlearn data inspect "/data/yt8m/frame/train00*.tfrecord" --num-classes 3862
"""

from __future__ import annotations

import argparse
from dataclasses import fields

from ..arguments import add_alias_option
from .files import resolve_files
from .inspect import format_summary, inspect_file
from .synth import SynthConfig, generate

__all__ = ["configure_parser", "run"]


def configure_parser(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="{synth,inspect}")
    sub.required = True
    synth = sub.add_parser("synth", help="write a synthetic dataset in the YouTube-8M format",
                           description="Write train/validate/test splits (frame and video "
                                       "level), vocabulary.csv and dataset.json. The same "
                                       "seed gives byte-identical files.")
    synth.add_argument("--out", required=True, help="output directory")
    defaults = SynthConfig()
    for f in fields(SynthConfig):
        default = getattr(defaults, f.name)
        kind = type(default)
        extra = {"choices": ["id", "video_id"]} if f.name == "id_key" else {}
        add_alias_option(synth, f.name.replace("_", "-"), type=kind, default=default,
                         help=f"(default: {default})", **extra)
    insp = sub.add_parser("inspect", help="validate TFRecord files and print a summary",
                          description="Check every record (CRC, schema, labels) and print "
                                      "records, frames and labels per video, feature sizes "
                                      "and the first ids. Exits 2 at the first bad record.")
    insp.add_argument("paths", nargs="+", help="files or globs (comma-separated globs allowed)")
    add_alias_option(insp, "num-classes", type=int, default=None,
                     help="also check that every label is below this")


def run(args: argparse.Namespace) -> int:
    if args.data_command == "synth":
        cfg = SynthConfig(**{f.name: getattr(args, f.name) for f in fields(SynthConfig)})
        summary = generate(args.out, cfg)
        for split, s in summary["splits"].items():
            print(f"{split}: {s['videos']} videos, {s['frames']} frames, {s['shards']} shards")
        print(f"wrote {args.out}")
        return 0
    files = resolve_files(list(args.paths))
    for path in files:
        print(format_summary(inspect_file(path, num_classes=args.num_classes)))
    return 0
