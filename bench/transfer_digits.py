"""Transfer learning, measured: Caffe's MNIST LeNet -> scikit-learn's digits with few labels.

Usage: .venv/bin/python bench/transfer_digits.py [--labels 5,10,20,50] [--seeds 0,1,2]
           [--epochs 60] [--json results.json] [--zoo DIR]

Three recipes, each a .net spec in specs/, trained by `netc train`'s loop in this process:
  scratch    lenet.net                           Caffe's LeNet, torch's default initialisation
  fine-tune  transfer/lenet_digits_finetune.net  lenet_iter_10000.caffemodel loaded, a new
                                                 classifier, every layer learns
  frozen     transfer/lenet_digits.net           the same weights, conv1 .. ip1 frozen, only
                                                 the new classifier learns
The protocol is ../shared/zoo/REFERENCE.md §3's: k labelled digits per class for training (chosen
by the seed), all the others for testing; SGD, momentum 0.9, lr 0.01, batch 32, 60 epochs; mean
± std over 3 seeds. The seed also fixes the new layers' initialisation and the data order; the
three recipes of one seed share the split. "Epochs to scratch's final" is the first epoch whose
test accuracy reaches the final accuracy of the from-scratch run with the same seed (the same
split; the test split is evaluated after every epoch), averaged over the seeds, and the time is
the training time up to then (evaluation excluded).

One thread (torch.set_num_threads(1)), CPU. Prints a Markdown table (docs/transfer-experiment.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
SPECS = REPO_ROOT / "specs"
WEIGHTS = Path("weights/caffe-lenet-mnist/lenet_iter_10000.caffemodel")  # under the zoo

# recipe -> (spec, pretrained?)
RECIPES: dict[str, tuple[str, bool]] = {
    "scratch": ("lenet.net", False),
    "fine-tune": ("transfer/lenet_digits_finetune.net", True),
    "frozen": ("transfer/lenet_digits.net", True),
}

# ../shared/zoo/REFERENCE.md §3, the independent baseline (mean of 3 seeds)
BASELINE: dict[int, dict[str, float]] = {
    5: {"scratch": 0.819, "fine-tune": 0.896, "frozen": 0.911},
    10: {"scratch": 0.887, "fine-tune": 0.938, "frozen": 0.951},
    20: {"scratch": 0.921, "fine-tune": 0.964, "frozen": 0.973},
    50: {"scratch": 0.961, "fine-tune": 0.986, "frozen": 0.987},
}


@dataclass
class Run:
    recipe: str
    labels: int
    seed: int
    final_acc: float
    history: list[dict[str, Any]] = field(repr=False)
    wall_seconds: float = 0.0

    def reach(self, target: float) -> tuple[int, float] | None:
        """(epoch, training seconds) when the test accuracy first reaches `target`."""
        spent = 0.0
        for record in self.history:
            spent += record["train_seconds"]
            acc = record["test_acc"]
            if acc is not None and acc >= target:
                return record["epoch"], spent
        return None


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def default_zoo() -> Path:
    return Path(os.environ.get("NETC_ZOO", REPO_ROOT.parent / "shared" / "zoo"))


def run_one(
    recipe: str,
    labels: int,
    seed: int,
    *,
    epochs: int = 60,
    batch: int = 32,
    lr: float = 0.01,
    momentum: float = 0.9,
    eval_every: int = 1,
    zoo: Path | None = None,
) -> Run:
    """One training run of a recipe (in this process, nothing written to disk)."""
    import torch

    from netc.training import TrainConfig, train

    torch.set_num_threads(1)
    spec, pretrained = RECIPES[recipe]
    weights = str((zoo or default_zoo()) / WEIGHTS) if pretrained else None
    config = TrainConfig(
        spec=str(SPECS / spec),
        data="digits",
        epochs=epochs,
        batch=batch,
        lr=lr,
        momentum=momentum,
        weights=weights,
        device="cpu",
        seed=seed,
        labels_per_class=labels,
        eval_every=eval_every,
    )
    began = time.perf_counter()
    result = train(config, progress=False)
    final = result.history[-1]["test_acc"]
    return Run(recipe, labels, seed, float(final), result.history, time.perf_counter() - began)


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def table(runs: list[Run], labels: list[int]) -> str:
    lines = [
        "| labels/class | recipe | test accuracy (mean ± std) | REFERENCE.md | "
        "epochs to scratch's final | training time to it (s) | training time, all epochs (s) |",
        "|---:|---|---|---:|---:|---:|---:|",
    ]
    scratch = {(r.labels, r.seed): r.final_acc for r in runs if r.recipe == "scratch"}
    for k in labels:
        for recipe in RECIPES:
            chosen = [r for r in runs if r.labels == k and r.recipe == recipe]
            if not chosen:
                continue
            mean, std = mean_std([r.final_acc for r in chosen])
            # paired: each run against the from-scratch run of its seed (the same split)
            reached = [r.reach(scratch[k, r.seed]) for r in chosen if (k, r.seed) in scratch]
            hits = [x for x in reached if x is not None]
            if hits and len(hits) == len(chosen):
                epochs = f"{statistics.fmean(e for e, _ in hits):.1f}"
                seconds = f"{statistics.fmean(s for _, s in hits):.2f}"
            else:
                epochs = seconds = f"{len(chosen) - len(hits)} of {len(chosen)} never"
            total = statistics.fmean(sum(h["train_seconds"] for h in r.history) for r in chosen)
            reference = BASELINE.get(k, {}).get(recipe)
            shown = f"{reference:.3f}" if reference is not None else "–"
            lines.append(
                f"| {k} | {recipe} | {mean:.4f} ± {std:.4f} | {shown} | {epochs} | {seconds} "
                f"| {total:.2f} |"
            )
    return "\n".join(lines)


def load_runs(path: Path) -> list[Run]:
    """Runs saved by --json (to render the table again without training)."""
    return [
        Run(d["recipe"], d["labels_per_class"], d["seed"], d["final_acc"], d["history"])
        for d in json.loads(path.read_text())
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labels", default="5,10,20,50", help="labels per class, comma-separated")
    parser.add_argument("--seeds", default="0,1,2", help="seeds, comma-separated")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--json", type=Path, help="write every run's per-epoch metrics here")
    parser.add_argument("--zoo", type=Path, default=None, help="the shared zoo folder")
    parser.add_argument("--from-json", type=Path, help="only print the table of saved runs")
    args = parser.parse_args(argv)
    labels = [int(v) for v in args.labels.split(",")]
    if args.from_json:
        print(table(load_runs(args.from_json), labels))
        return 0
    seeds = [int(v) for v in args.seeds.split(",")]
    zoo = args.zoo or default_zoo()
    if not (zoo / WEIGHTS).is_file():
        print(f"error: {zoo / WEIGHTS} not found (set NETC_ZOO or --zoo)", file=sys.stderr)
        return 1

    import torch

    began = time.perf_counter()
    runs: list[Run] = []
    for k in labels:
        for seed in seeds:
            for recipe in RECIPES:
                run = run_one(recipe, k, seed, epochs=args.epochs, zoo=zoo)
                runs.append(run)
                print(
                    f"k={k:<3} seed={seed} {recipe:<9} test acc {run.final_acc:.4f} "
                    f"({run.wall_seconds:.1f} s)",
                    file=sys.stderr,
                    flush=True,
                )
    elapsed = time.perf_counter() - began
    command = "OMP_NUM_THREADS=1 .venv/bin/python bench/transfer_digits.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    machine = (
        f"{cpu_name()}, {os.cpu_count()} logical CPUs, "
        f"Python {platform.python_version()}, torch {torch.__version__}, 1 thread"
    )
    print(
        f"command: `{command.strip()}`  \nmachine: {machine}  \ntotal wall time: {elapsed:.0f} s\n"
    )
    print(table(runs, labels))
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "recipe": r.recipe,
                        "labels_per_class": r.labels,
                        "seed": r.seed,
                        "final_acc": r.final_acc,
                        "history": r.history,
                    }
                    for r in runs
                ],
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    raise SystemExit(main())
