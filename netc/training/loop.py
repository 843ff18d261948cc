"""`netc train`: fine-tune the generated module of a spec on a classification data set.

    config = TrainConfig(spec="lenet_digits.net", data="digits", epochs=60, batch=32, lr=0.01,
                         weights="lenet_iter_10000.caffemodel", labels_per_class=10)
    result = train(config)        # result.history: the metrics.jsonl records

The optimizer's groups are the module's `param_groups(lr, weight_decay)`, so the spec's
lr_mult/decay_mult, `freeze` and `tune` statements decide what learns and how fast. The loss is
cross-entropy on the logits (see netc/training/model.py for which tensor that is). The learning
rate is constant, as in the transfer protocol of ../shared/zoo/REFERENCE.md §3.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from netc.training import checkpoints as ckpt
from netc.training import distributed
from netc.training.config import TrainConfig, TrainError
from netc.training.distributed import Context, EpochSampler, ShardSampler
from netc.training.metrics import Progress, Tally, epoch_record, summary_line
from netc.training.model import ClassifierView, classifier_view, load_graph

Log = Callable[[str], None]
DatasetOpener = Callable[..., Dataset[Any]]


@dataclass
class TrainResult:
    history: list[dict[str, Any]]
    model: nn.Module  # the trained module (unwrapped, on its device)
    view: ClassifierView
    resumed_from: int = 0  # the epoch the run continued after (0: a fresh run)
    weights_report: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def _identity(config: TrainConfig, spec_text: bytes) -> dict[str, Any]:
    """config.json: the settings, and what a resumed run must match."""
    return {
        **{k: v for k, v in asdict(config).items() if k not in ("resume", "force", "out")},
        "spec_sha256": hashlib.sha256(spec_text).hexdigest(),
        "torch": str(torch.__version__),
    }


def train(
    config: TrainConfig,
    *,
    log: Log | None = None,
    open_dataset: DatasetOpener | None = None,
    progress: bool = True,
) -> TrainResult:
    """Run (or continue) a training run; raises TrainError, NetcError or
    checkpoints.RunDirError for input the user can fix."""
    config.validate()
    ctx = distributed.setup(config.device)
    try:
        return _train(config, ctx, log, open_dataset, progress)
    finally:
        distributed.teardown(ctx)


def _train(
    config: TrainConfig,
    ctx: Context,
    log: Log | None,
    open_dataset: DatasetOpener | None,
    progress: bool,
) -> TrainResult:
    def say(message: str) -> None:
        if ctx.is_main and log is not None:
            log(message)

    if config.batch % ctx.world_size:
        raise TrainError(
            f"--batch {config.batch} does not split over {ctx.world_size} processes",
            "--batch is the global batch; make it a multiple of the number of processes",
        )
    per_rank_batch = config.batch // ctx.world_size
    spec_path = Path(config.spec)
    from netc.api import read_source

    spec_text = read_source(spec_path).text.encode("utf-8")  # NetcError: missing, not text
    identity = _identity(config, spec_text)

    # Rank 0 reads the run folder and hands every rank its verdict and the checkpoint: the
    # folder need not be shared between machines, and all ranks fail alike, before any work.
    out = Path(config.out) if config.out is not None else None
    resuming = False
    saved: dict[str, Any] | None = None
    problem: ckpt.RunDirError | None = None
    if ctx.is_main and out is not None:
        try:
            resuming = ckpt.check_run_dir(out, resume=config.resume, force=config.force)
            if resuming:
                saved = ckpt.load_checkpoint(out / ckpt.CHECKPOINT)
                ckpt.check_resumable(saved["identity"], identity)
        except ckpt.RunDirError as exc:
            problem = exc
    resuming, saved, problem = distributed.broadcast_object((resuming, saved, problem), ctx)
    if problem is not None:
        raise problem
    if config.resume and not resuming and out is not None:
        say(f"netc: note: {out} holds no checkpoint; starting a new run")

    view = classifier_view(load_graph(spec_path))
    say(f"{view.graph.name}: {view.how}; input {'×'.join(map(str, view.input_shape))}")

    opener: DatasetOpener
    if open_dataset is None:
        from netc.data import open_dataset as opener
    else:
        opener = open_dataset
    train_set, test_set = (
        opener(
            config.data,
            split=split,
            input_shape=view.input_shape,
            labels_per_class=config.labels_per_class,
            seed=config.seed,
        )
        for split in ("train", "test")
    )
    classes = list(getattr(train_set, "classes", []))
    if len(train_set) == 0:  # type: ignore[arg-type]
        raise TrainError(f"{config.data}: the training split is empty")
    if classes and len(classes) > view.num_outputs:
        raise TrainError(
            f"{config.data} has {len(classes)} classes but the network's logits have "
            f"{view.num_outputs}",
            f'replace the head in a derived spec: replace "<last layer>" {{ layer {{ ... '
            f"num_output: {len(classes)} }} }}",
        )
    if classes and len(classes) < view.num_outputs:
        say(
            f"netc: note: the logits have {view.num_outputs} classes, {config.data} "
            f"{len(classes)}; the others are never the target (replace the head to match)"
        )
    say(
        f"data {config.data}: {len(train_set)} training, {len(test_set)} test samples"  # type: ignore[arg-type]
        + (f", {len(classes)} classes" if classes else "")
    )

    # The same initial weights on every rank and in every run with this seed.
    torch.manual_seed(config.seed)
    from netc.backends.torch import to_torch

    model: nn.Module = to_torch(view.graph, str(spec_path))
    weights_report = None
    if config.weights is not None and not resuming:
        from netc.weights import load_into

        weights_report = load_into(model, config.weights, view.graph, strict=True)
        say(f"weights {weights_report.summary()}")
    model.to(ctx.device)
    groups = model.param_groups(config.lr, config.weight_decay)  # type: ignore[operator]
    if not groups:
        raise TrainError(
            f"{view.graph.name}: every parameter is frozen; nothing to train",
            "unfreeze a layer (the new head, at least)",
        )
    optimizer: torch.optim.Optimizer
    if config.optimizer == "sgd":
        optimizer = torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)
    else:
        optimizer = torch.optim.AdamW(groups, lr=config.lr)
    use_scaler = config.amp and ctx.device.type == "cuda"  # fp16 needs loss scaling; bf16 not
    scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)
    amp_dtype = torch.float16 if ctx.device.type == "cuda" else torch.bfloat16

    history: list[dict[str, Any]] = []
    start = 0
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        if saved.get("scaler"):
            scaler.load_state_dict(saved["scaler"])
        history = list(saved["history"])
        start = int(saved["epoch"])
        if start > config.epochs:
            raise TrainError(
                f"--epochs {config.epochs}: the checkpoint in {out} is at epoch {start} already",
                f"pass --epochs {start} or more",
            )
        states = saved["rng"]
        if ctx.rank < len(states):
            ckpt.set_rng_state(states[ctx.rank])
        else:  # more processes than the run had: a fresh, still deterministic stream
            torch.manual_seed(config.seed * 7919 + ctx.rank)
        say(f"resuming {out} after epoch {start}")
    else:
        # dropout differs between ranks, as it would between the samples of one batch
        torch.manual_seed(config.seed * 7919 + ctx.rank)

    if ctx.is_main and out is not None:
        out.mkdir(parents=True, exist_ok=True)
        ckpt.write_config(out, {**identity, "world_size": ctx.world_size})
        ckpt.rewrite_metrics(out, history)
    distributed.barrier(ctx)

    net = distributed.wrap(model, ctx)
    sampler = EpochSampler(len(train_set), ctx.rank, ctx.world_size, config.seed)  # type: ignore[arg-type]
    pin = ctx.device.type == "cuda"
    # its own generator (reseeded each epoch; workers are not persistent, so each epoch's are
    # seeded from it): loading never draws from the global RNG that dropout uses, and a
    # resumed run seeds its workers as the uninterrupted run did
    loader_rng = torch.Generator()
    train_loader = DataLoader(
        train_set,
        batch_size=per_rank_batch,
        sampler=sampler,
        num_workers=config.workers,
        pin_memory=pin,
        generator=loader_rng,
    )
    test_loader = DataLoader(
        test_set,
        batch_size=max(per_rank_batch, 256),
        sampler=ShardSampler(len(test_set), ctx.rank, ctx.world_size),  # type: ignore[arg-type]
        num_workers=config.workers,
        pin_memory=pin,
    )
    display = Progress(progress and ctx.is_main)

    def forward(module: nn.Module, images: torch.Tensor) -> torch.Tensor:
        with torch.autocast(ctx.device.type, dtype=amp_dtype, enabled=config.amp):
            logits: torch.Tensor = module(images)
        return logits.float()  # the loss in fp32, as autocast recommends

    for epoch in range(start + 1, config.epochs + 1):
        began = time.perf_counter()
        sampler.set_epoch(epoch)
        loader_rng.manual_seed(config.seed * 1_000_003 + epoch)
        net.train()
        tally = Tally()
        with display.epoch(f"epoch {epoch}/{config.epochs}", len(train_loader)) as bar:
            for step, (images, labels) in enumerate(train_loader):
                images = images.to(ctx.device, non_blocking=True)
                labels = labels.to(ctx.device, non_blocking=True)
                logits = forward(net, images)
                loss = nn.functional.cross_entropy(logits, labels)
                optimizer.zero_grad(set_to_none=True)
                scaled: torch.Tensor = scaler.scale(loss)
                torch.autograd.backward(scaled)
                scaler.step(optimizer)
                scaler.update()
                tally.add(loss, logits, labels)
                bar.advance(loss, every=10, step=step)
        train_stats = tally.total(ctx)
        trained = time.perf_counter() - began
        if not math.isfinite(train_stats[0]):
            raise TrainError(
                f"epoch {epoch}: the training loss is {train_stats[0]}",
                "lower --lr (or use --amp only where the network is fp16-safe)",
            )
        test_stats = None
        last = epoch == config.epochs
        if last or (config.eval_every and epoch % config.eval_every == 0):
            # the plain module: evaluation needs no gradient sync, and ranks' shards differ in size
            test_stats = evaluate(model, test_loader, ctx, forward)
        record = epoch_record(
            epoch,
            train_stats,
            test_stats,
            config.lr,
            time.perf_counter() - began,
            trained,
            ctx.world_size,
        )
        history.append(record)
        say(summary_line(record, config.epochs))
        states = distributed.gather_objects(ckpt.rng_state(ctx.device.type == "cuda"), ctx)
        if ctx.is_main and out is not None:
            ckpt.append_metrics(out, record)
            ckpt.save_torch(
                out / ckpt.CHECKPOINT,
                {
                    "format": ckpt.FORMAT,
                    "version": ckpt.VERSION,
                    "epoch": epoch,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scaler": scaler.state_dict() if use_scaler else {},
                    "rng": states,
                    "data_seed": config.seed,
                    "identity": identity,
                    "history": history,
                },
            )
        distributed.barrier(ctx)  # no rank runs ahead of the checkpoint it may resume from

    if ctx.is_main and out is not None:
        ckpt.save_torch(out / ckpt.FINAL, model.state_dict())
        say(f"wrote {out / ckpt.FINAL}, {out / ckpt.CHECKPOINT}, {out / ckpt.METRICS}")
    return TrainResult(history, model, view, start, weights_report)


def evaluate(
    net: nn.Module,
    loader: DataLoader[Any],
    ctx: Context,
    forward: Callable[[nn.Module, torch.Tensor], torch.Tensor],
) -> tuple[float, float, int]:
    """Mean cross-entropy and accuracy over the whole test split (every rank's shard)."""
    net.eval()
    tally = Tally()
    with torch.no_grad():
        for images, labels in loader:
            images = images.to(ctx.device, non_blocking=True)
            labels = labels.to(ctx.device, non_blocking=True)
            logits = forward(net, images)
            tally.add(nn.functional.cross_entropy(logits, labels), logits, labels)
    return tally.total(ctx)


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr)


def limit_threads() -> None:
    """OMP_NUM_THREADS, when set, bounds torch's intra-op threads too (torch reads it only at
    start-up; a value exported later would be ignored)."""
    value = os.environ.get("OMP_NUM_THREADS")
    if value and value.isdigit() and int(value) > 0:
        torch.set_num_threads(int(value))
