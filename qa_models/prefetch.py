"""Fill the Hugging Face cache with everything a profile loads from the hub, for offline runs.

    python -m qa_models.prefetch --profile seed                  # models, tokenizers, SQuAD v2, CMRC dev
    python -m qa_models.prefetch --profile seed --track cmrc2018 # the same models, CMRC 2018
    python -m qa_models.prefetch --profile seed --plan           # what it would fetch, and what is cached
    python -m qa_models.prefetch --model bert-base-uncased --dataset rajpurkar/squad_v2

Run it where the hub is reachable, with the HF_HOME the GPU node will use (or copy that
folder there afterwards), then run the profile there with ``HF_HUB_OFFLINE=1``. Models come
with ``huggingface_hub.snapshot_download`` (config, safetensors weights, tokenizer and
generation config; not Meta's ``original/`` checkpoint or other frameworks' copies),
datasets with ``datasets.load_dataset`` (every split, prepared in the datasets cache, which
is what an offline ``load_dataset`` reads). Meta-Llama-3-8B-Instruct is gated: accept its
licence on its hub page and log in (``hf auth login``) first.

Under ``HF_HUB_OFFLINE=1`` nothing can be downloaded: it prints the plan, says what the
cache lacks and exits with status 1 (0 when the cache already holds everything).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from . import hub_cache
from .hub_cache import DatasetNeed, ModelNeed


@dataclass(frozen=True)
class Plan:
    """What to fetch: model repos and dataset splits (a dataset is fetched whole, once)."""

    models: tuple[ModelNeed, ...]
    datasets: tuple[DatasetNeed, ...]

    def dataset_ids(self) -> list[str]:
        return list(dict.fromkeys(n.dataset_id for n in self.datasets))


def plan_for(profile_name: str | None, track: str = "squad_v2", models: tuple[str, ...] = (),
             datasets: tuple[str, ...] = ()) -> Plan:
    """The profile's hub models and datasets (the cross-lingual CMRC split included), plus
    any ids named one by one."""
    model_needs: list[ModelNeed] = []
    dataset_needs: list[DatasetNeed] = []
    if profile_name:
        from .profiles import get_profile

        profile = get_profile(profile_name, track)
        model_needs += hub_cache.model_needs(profile)
        dataset_needs += hub_cache.dataset_needs(profile)
    model_needs += [ModelNeed(m, ("--model",)) for m in models if m not in {n.repo_id for n in model_needs}]
    dataset_needs += [DatasetNeed(d, split, "--dataset") for d in datasets for split in ("train", "validation")
                      if (d, split) not in {(n.dataset_id, n.split) for n in dataset_needs}]
    return Plan(tuple(model_needs), tuple(dataset_needs))


def describe(plan: Plan) -> list[str]:
    """One line per item, with what is cached already (checked offline)."""
    hub, data_dir = hub_cache.hub_cache_dir(), hub_cache.datasets_cache_dir()
    lines = [f"hub cache (models): {hub}", f"datasets cache: {data_dir}"]
    for need in plan.models:
        problem = hub_cache.model_problem(need.repo_id, hub)
        state = "cached" if problem is None else f"to fetch ({problem})"
        lines.append(f"model   {need.repo_id}  for {', '.join(need.rows)}: {state}")
    for need in plan.datasets:
        problem = hub_cache.dataset_problem(need.dataset_id, need.split, data_dir)
        state = "cached" if problem is None else "to fetch"
        optional = "" if need.required else " [optional]"
        lines.append(f"dataset {need.dataset_id} split {need.split!r}  for {need.use}{optional}: {state}")
    return lines


def missing(plan: Plan) -> list[str]:
    """The ids of the plan that the cache cannot serve offline."""
    hub, data_dir = hub_cache.hub_cache_dir(), hub_cache.datasets_cache_dir()
    gone = [n.repo_id for n in plan.models if hub_cache.model_problem(n.repo_id, hub)]
    gone += [d for d in plan.dataset_ids()
             if any(hub_cache.dataset_problem(n.dataset_id, n.split, data_dir) for n in plan.datasets if n.dataset_id == d)]
    return gone


def _folder_bytes(folder: Path) -> int:
    # Snapshot files are symlinks into blobs/: stat follows them to the real size.
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def fetch_model(repo_id: str) -> tuple[Path, int]:
    """Download one model repo's run files into the hub cache; its snapshot folder and bytes."""
    from huggingface_hub import snapshot_download

    folder = Path(snapshot_download(repo_id, cache_dir=hub_cache.hub_cache_dir(),
                                    allow_patterns=list(hub_cache.MODEL_PATTERNS),
                                    ignore_patterns=list(hub_cache.MODEL_IGNORE)))
    return folder, _folder_bytes(folder)


def fetch_dataset(dataset_id: str) -> tuple[list[str], int]:
    """Download and prepare every split of a hub dataset; its split names and Arrow bytes."""
    import datasets

    loaded = datasets.load_dataset(dataset_id, cache_dir=str(hub_cache.datasets_cache_dir()))
    files = {f["filename"] for split in loaded.values() for f in split.cache_files}
    return list(loaded), sum(Path(f).stat().st_size for f in files)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    return f"{n:.1f} GB"


def _fetch_error(kind: str, name: str, error: Exception) -> str:
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    if isinstance(error, GatedRepoError):
        return (f"{kind} {name} is gated: accept its licence at https://huggingface.co/{name} with your account, "
                "then log in here (hf auth login, or HF_TOKEN) and run this again")
    if isinstance(error, RepositoryNotFoundError):
        return f"{kind} {name} is not on the hub (or is private): check the id, or log in (hf auth login)"
    return f"{kind} {name} could not be fetched: {type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"


def build_parser() -> argparse.ArgumentParser:
    from .profiles import PROFILES, TRACKS

    parser = argparse.ArgumentParser(prog="python -m qa_models.prefetch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=sorted(PROFILES),
                        help="fetch every hub model, tokenizer and dataset this profile loads (profiles that read "
                             "only local files or packages need nothing)")
    parser.add_argument("--track", choices=TRACKS, default="squad_v2",
                        help="the profile's benchmark: squad_v2 (default; also CMRC dev for the cross-lingual row) "
                             "or cmrc2018")
    parser.add_argument("--model", action="append", default=[], metavar="ID",
                        help="a hub model id to fetch (config, weights, tokenizer); repeat for more")
    parser.add_argument("--dataset", action="append", default=[], metavar="ID",
                        help="a hub dataset id to fetch, every split; repeat for more")
    parser.add_argument("--plan", action="store_true",
                        help="print what would be fetched and what the cache already holds, download nothing")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not (args.profile or args.model or args.dataset):
        parser.error("give --profile NAME, or --model ID / --dataset ID")
    plan = plan_for(args.profile, args.track, tuple(args.model), tuple(args.dataset))
    for line in describe(plan):
        print(line)
    if not plan.models and not plan.datasets:
        print(f"profile {args.profile!r} loads nothing from the hub: nothing to fetch")
        return 0
    if args.plan:
        return 0
    if hub_cache.offline():
        gone = missing(plan)
        if not gone:
            print("HF_HUB_OFFLINE=1, and the cache already holds everything: nothing to fetch")
            return 0
        print(f"error: HF_HUB_OFFLINE=1, so nothing can be downloaded, and the cache (HF_HOME={hub_cache.hf_home()}) "
              f"lacks {', '.join(gone)}. Run this command on a machine that reaches the hub, with HF_HUB_OFFLINE unset "
              "and HF_HOME pointing at the folder to fill; then copy that folder here and point HF_HOME at it.",
              file=sys.stderr)
        return 1
    failures, total = [], 0
    for need in plan.models:
        try:
            folder, size = fetch_model(need.repo_id)
        except Exception as error:  # noqa: BLE001 - each failure is reported, the rest still fetched
            failures.append(_fetch_error("model", need.repo_id, error))
            continue
        total += size
        print(f"fetched model {need.repo_id}: {_size(size)} in {folder}", flush=True)
    for dataset_id in plan.dataset_ids():
        try:
            splits, size = fetch_dataset(dataset_id)
        except Exception as error:  # noqa: BLE001
            failures.append(_fetch_error("dataset", dataset_id, error))
            continue
        total += size
        print(f"fetched dataset {dataset_id} (splits {', '.join(splits)}): {_size(size)} in "
              f"{hub_cache.datasets_cache_dir()}", flush=True)
    print(f"total: {_size(total)} under HF_HOME={hub_cache.hf_home()}")
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
