"""The reader training loop: optimiser and schedule, checkpoint every 50 steps and resume, export the weights."""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import asdict
from pathlib import Path

from rag.reader.training_config import TrainConfig
from rag.reader.training_examples import CALIBRATION_PERCENT, TRAIN_FILES, is_calibration, load_examples
from rag.reader.training_windows import batches, windows_for_pass

logger = logging.getLogger("rag.reader.training_loop")


def train(
    train_dir: Path,
    out_dir: Path,
    base_dir: Path,
    config: TrainConfig,
    max_minutes: float | None,
    *,
    export_only: bool = False,
) -> Path:
    """Train (or resume) and export the shipped weights; returns the export directory."""
    import torch

    from rag.reader.network import build_reader, delta_state, freeze_except, trainable_names

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    torch.manual_seed(config.seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    examples = [e for e in load_examples(train_dir) if not is_calibration(e)]
    # each pass crops the passages afresh (seed + pass), so a second pass sees new windows
    passes = [windows_for_pass(examples, base_dir, config, p) for p in range(max(1, math.ceil(config.epochs)))]
    windows = passes[0]
    schedule = [w for pass_windows in passes for w in pass_windows][: int(len(windows) * config.epochs)]
    total_steps = math.ceil(len(schedule) / config.batch_size)
    logger.info("%d windows (%d with an answer); %d steps", len(windows), sum(w.start > 0 for w in windows), total_steps)

    reader = build_reader(base_dir)
    if config.init_from:
        from safetensors.torch import load_file

        from rag.reader.network import apply_delta
        from rag.reader.weights import WEIGHTS_NAME, verify_weights

        verify_weights(Path(config.init_from), base_dir)
        apply_delta(reader, load_file(str(Path(config.init_from) / WEIGHTS_NAME)))
        logger.info("warm start from %s", config.init_from)
    names = trainable_names(reader, config.first_trainable_layer)
    freeze_except(reader, names)
    params = dict(reader.named_parameters())
    optimizer = torch.optim.AdamW(
        [
            {"params": [params[n] for n in names if not n.startswith("qa_outputs.")], "lr": config.lr_encoder},
            {"params": [params[n] for n in names if n.startswith("qa_outputs.")], "lr": config.lr_head},
        ],
        weight_decay=0.01,
    )
    warmup = max(1, int(total_steps * config.warmup_fraction))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total_steps - s) / max(1, total_steps - warmup)))
    )
    checkpoint = out_dir / "checkpoint.pt"
    step, elapsed = 0, 0.0
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        if state["config"] != asdict(config):
            raise SystemExit(f"{checkpoint} was written with other settings; remove it to start afresh")
        reader.load_state_dict(state["trainable"], strict=False)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        step, elapsed = int(state["step"]), float(state["elapsed"])
        logger.info("resumed at step %d (%.0f s trained)", step, elapsed)

    def save() -> None:
        tmp = checkpoint.with_suffix(".tmp")
        torch.save(
            {
                "config": asdict(config),
                "trainable": {n: params[n].detach().clone() for n in names},
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "step": step,
                "elapsed": elapsed,
            },
            tmp,
        )
        os.replace(tmp, checkpoint)

    reader.train()
    started = time.monotonic() - elapsed
    loss_sum, loss_n = 0.0, 0
    for batch_index, batch in enumerate(batches(schedule, config.batch_size)):
        if export_only:
            break
        if batch_index < step:
            continue
        length = max(len(w.input_ids) for w in batch)
        ids = torch.full((len(batch), length), 1, dtype=torch.long)
        mask = torch.zeros((len(batch), length), dtype=torch.long)
        for i, w in enumerate(batch):
            ids[i, : len(w.input_ids)] = torch.tensor(w.input_ids)
            mask[i, : len(w.input_ids)] = 1
        starts = torch.tensor([w.start for w in batch])
        ends = torch.tensor([w.end for w in batch])
        start_logits, end_logits = reader(ids, mask)
        neg = torch.finfo(start_logits.dtype).min
        start_logits = start_logits.masked_fill(mask == 0, neg)
        end_logits = end_logits.masked_fill(mask == 0, neg)
        loss = (
            torch.nn.functional.cross_entropy(start_logits, starts) + torch.nn.functional.cross_entropy(end_logits, ends)
        ) / 2
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_([params[n] for n in names], 1.0)
        optimizer.step()
        scheduler.step()
        step += 1
        loss_sum += float(loss)
        loss_n += 1
        elapsed = time.monotonic() - started
        if step % 20 == 0:
            rate = step / max(elapsed, 1e-9)
            logger.info(
                "step %d/%d loss %.3f %.2f s/step eta %.0f min",
                step, total_steps, loss_sum / loss_n, 1 / rate, (total_steps - step) / rate / 60,
            )
            loss_sum, loss_n = 0.0, 0
        if step % 50 == 0:
            save()
        if max_minutes is not None and elapsed > max_minutes * 60:
            logger.warning("time budget of %.0f min reached at step %d/%d", max_minutes, step, total_steps)
            break
    if not export_only:
        save()
    export_dir = out_dir / "export"
    from rag.reader.weights import write_weights

    write_weights(
        export_dir,
        delta_state(reader, names),
        base_dir=base_dir,
        card={
            "config": asdict(config),
            "steps": step,
            "total_steps": total_steps,
            "train_seconds": round(elapsed),
            "training_windows": len(windows),
            "training_questions": len(examples),
            "training_files": [name for name, _ in TRAIN_FILES],
            "calibration_holdout_percent": CALIBRATION_PERCENT,
        },
    )
    logger.info("exported %s", export_dir)
    return export_dir
