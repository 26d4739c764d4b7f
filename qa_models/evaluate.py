"""Command-line scorer: a drop-in for the official SQuAD ``evaluate-v2.0.py``.

    python -m qa_models.evaluate DATA.json PREDS.json \
        [--na-prob-file NA.json] [--na-prob-thresh 1.0] [--out-file OUT.json] \
        [--metric squad_v2|cmrc2018]

Prints the report as JSON (indent 2) with the official keys in the official
order, or, like the official script, writes it to ``--out-file`` instead.
Unlike the official script it refuses to score when a question has no
prediction (pass ``--allow-missing`` for the official skip) and turns a
missing or garbled input file into a one-line error and exit status 1
instead of a traceback.

Scoring is in :mod:`qa_models.metrics`; this module only reads files and
checks that they have the shape the metric expects.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
from typing import Any

from qa_models import metrics
from qa_models.formatting import is_number
from qa_models.tracks import DEFAULT_TRACK, TRACKS

#: Exit status for unusable input (argparse itself uses 2 for bad usage).
EXIT_BAD_INPUT = 1


class InputError(Exception):
    """An input file is missing, unreadable, or not shaped as expected."""


def load_json(path: str) -> Any:
    """Read a JSON file, gunzipping it first if it is gzip-compressed.

    Compression is recognised by the gzip magic bytes rather than the
    ``.gz`` suffix, so a renamed file still loads.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}") from e
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise InputError(f"{path}: corrupt gzip data: {e}") from e
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text: {e}") from e
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON: {e}") from e


def _check_str_map(obj: Any, path: str, what: str) -> dict[str, str]:
    if not isinstance(obj, dict):
        raise InputError(
            f"{path}: {what} must be a JSON object mapping question id to answer text, "
            f"got {type(obj).__name__}"
        )
    bad = [k for k, v in obj.items() if not isinstance(v, str)]
    if bad:
        raise InputError(
            f"{path}: {what} must map question id to a string; {len(bad)} value(s) are not, "
            f"e.g. {bad[0]!r}: {obj[bad[0]]!r}"
        )
    return obj


def _check_prob_map(obj: Any, path: str) -> dict[str, float]:
    if not isinstance(obj, dict):
        raise InputError(
            f"{path}: no-answer probabilities must be a JSON object mapping question id to a "
            f"number, got {type(obj).__name__}"
        )
    for k, v in obj.items():
        if not is_number(v) or math.isnan(v):  # NaN cannot be compared with a threshold; infinity can
            raise InputError(f"{path}: no-answer probability for {k!r} is {v!r}, not a number")
    return obj


def _load_dataset(path: str) -> dict:
    data = load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise InputError(f"{path}: not a SQuAD-format dataset (expected an object with a 'data' list)")
    return data


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (separate so tests and docs can inspect it)."""
    p = argparse.ArgumentParser(
        prog="python -m qa_models.evaluate",
        description="Score QA predictions with the official SQuAD v2.0 metric (default) "
        "or the CMRC 2018 metric. Output matches the official evaluate-v2.0.py.",
    )
    p.add_argument("data_file", metavar="DATA.json",
                   help="Gold data in SQuAD format (data[].paragraphs[].qas[]); .json or gzipped.")
    p.add_argument("pred_file", metavar="PREDS.json",
                   help="Predictions: a JSON object mapping question id to answer text "
                        "(\"\" means no answer).")
    p.add_argument("--na-prob-file", "-n", metavar="NA.json", default=None,
                   help="JSON object mapping question id to the model's probability that the "
                        "question has no answer. Enables the best_exact/best_f1 threshold sweep. "
                        "squad_v2 only.")
    p.add_argument("--na-prob-thresh", "-t", type=float, default=1.0, metavar="T",
                   help="Count a question as answered \"\" when its no-answer probability is "
                        "strictly greater than T (default: 1.0, i.e. never). squad_v2 only.")
    p.add_argument("--out-file", "-o", metavar="OUT.json", default=None,
                   help="Write the report to this file instead of printing it to stdout.")
    p.add_argument("--metric", choices=tuple(TRACKS), default=DEFAULT_TRACK,
                   help=" ".join(f"{name}: {track.metric}{' (default)' if name == DEFAULT_TRACK else ''}."
                                 for name, track in TRACKS.items()))
    p.add_argument("--allow-missing", action="store_true",
                   help="Do not fail when some questions have no prediction. squad_v2 skips "
                        "them (the official behaviour); cmrc2018 scores them 0.")
    return p


def run(args: argparse.Namespace) -> dict:
    """Load the files named in ``args`` and return the report dict."""
    dataset = _load_dataset(args.data_file)
    preds = _check_str_map(load_json(args.pred_file), args.pred_file, "predictions")
    try:
        gold = metrics.gold_answers_from_squad_json(dataset)
    except (KeyError, TypeError) as e:
        raise InputError(f"{args.data_file}: malformed SQuAD tree ({type(e).__name__}: {e})") from e

    track = TRACKS[args.metric]
    if not track.has_threshold:
        return track.scorer(gold, preds, allow_missing=args.allow_missing)

    na_probs = None
    if args.na_prob_file:
        na_probs = _check_prob_map(load_json(args.na_prob_file), args.na_prob_file)
    return track.scorer(
        gold,
        preds,
        na_probs=na_probs,
        na_prob_thresh=args.na_prob_thresh,
        allow_missing=args.allow_missing,
        # The official HasAns is "answers list non-empty", read from the tree.
        has_ans=metrics.has_answer_from_squad_json(dataset),
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not TRACKS[args.metric].has_threshold and (args.na_prob_file or args.na_prob_thresh != 1.0):
        with_threshold = ", ".join(name for name, track in TRACKS.items() if track.has_threshold)
        parser.error(f"--na-prob-file/--na-prob-thresh only apply to --metric {with_threshold}")
    try:
        report = run(args)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (ValueError, TypeError) as e:
        # Missing predictions / probabilities and similar: the metric's own message.
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.out_file:
        try:
            with open(args.out_file, "w", encoding="utf-8") as f:
                json.dump(report, f, indent=2)
                f.write("\n")
        except OSError as e:
            print(f"error: cannot write {args.out_file}: {e.strerror or e}", file=sys.stderr)
            return EXIT_BAD_INPUT
    else:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
