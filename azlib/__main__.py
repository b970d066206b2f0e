"""Command line: ``python -m azlib <command> ...``. Each command lives beside its module."""

from __future__ import annotations

import argparse
import importlib
import sys

# command name -> (module, help). Each module defines add_arguments(parser) and run(args).
COMMANDS = {
    "reencode": ("azlib.codec", "re-encode video(s) to MPEG-4 Part 2, GoP 12, no B-frames"),
    "extract": ("azlib.codec", "extract motion vectors and residuals of one video to .npz"),
    "extract-dataset": ("azlib.store", "fill the LNet-input store for a whole dataset"),
    "synth": ("azlib.datasets.synthetic", "generate the SynthActions dataset"),
    "train": ("azlib.train", "train and evaluate one configuration"),
    "experiments": ("azlib.experiments", "run (or reuse) the paper's experiment grid"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m azlib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    argv = sys.argv[1:] if argv is None else list(argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text)
        if name != chosen:
            continue  # import only the chosen command's module (torch is slow to import)
        module = importlib.import_module(module_name)
        # A module may serve several commands: add_arguments(parser, command).
        module.add_arguments(command_parser, name)
        command_parser.set_defaults(_run=module.run, command=name)
    args = parser.parse_args(argv)
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
