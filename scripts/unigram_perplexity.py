"""The perplexity of a unigram model on Penn Treebank's valid and test text: what a language model reaches
that has learned the words' frequencies and nothing else.

    python scripts/unigram_perplexity.py --data-dir ../shared/data/ptb --fractions 0.1 0.25 0.5 1

For each share of the training text (its first ``fraction``, as ``data.train_fraction`` trains on), the
model's probability of a word is its count there plus one over the share's length plus the vocabulary's size
(add-one smoothing: a word of the vocabulary the share never shows still gets a finite probability). It scores
every token of the valid and test streams, <eos> included, and prints a Markdown row per share. A run whose
final perplexity sits near this level (some of the lr tuning grid's runs that blew up early: "What section 5
shows" in results/ptb-verdict/README.md) predicts no better than word frequencies.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from adamomentum.data.ptb import load_ptb, train_share


def unigram_perplexity(train: torch.Tensor, held_out: torch.Tensor, vocab_size: int) -> float:
    """exp of the mean negative log probability of ``held_out`` under add-one smoothed counts of ``train``
    (both streams of ids below ``vocab_size``)."""
    counts = torch.bincount(train, minlength=vocab_size).double() + 1
    log_probs = counts.log() - math.log(len(train) + vocab_size)
    return math.exp(-float(log_probs[held_out].mean()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="a folder with ptb.{train,valid,test}.txt")
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.25, 0.5, 1.0])
    parser.add_argument(
        "--no-verify", action="store_true", help="load any corpus in PTB's format, not only Mikolov's files"
    )
    args = parser.parse_args()
    for fraction in args.fractions:
        if not 0 < fraction <= 1:
            parser.error(f"--fractions {fraction:g}: a share of the training text lies in (0, 1]")
    corpus = load_ptb(args.data_dir, download=False, verify=not args.no_verify)
    print("| share of the training text | tokens | valid perplexity | test perplexity |")
    print("|---|---|---|---|")
    for fraction in args.fractions:
        train = train_share(corpus.train, fraction)
        valid, test = (unigram_perplexity(train, split, len(corpus.vocab)) for split in (corpus.valid, corpus.test))
        print(f"| {100 * fraction:g}% | {len(train):,} | {valid:.1f} | {test:.1f} |")


if __name__ == "__main__":
    main()
