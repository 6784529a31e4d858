"""A small NER check set cut from MSRA: the size of a user's first own corpus, in two-column BIO files.

    python scripts/make_msra_check_set.py --msra-dir /work/shared/data/msra --out data/msra-small

Writes ``train.txt``, ``dev.txt`` and ``test.txt`` (a character and its BIO tag a line, a blank line
between sentences) and ``manifest.json`` (sizes, seed, entity counts, the source files' SHA-256).
Only sentences the loader keeps by default (2 to 80 tokens) are drawn, so ``--train`` is the
training set's size after the length filter; train and dev are disjoint samples of
``msra_train.txt``, test a sample of ``msra_test.txt``, each kept in corpus order. The same seed
gives the same files. MSRA's BMES tags are written as BIO, as the loader reads them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from collections import Counter
from pathlib import Path

from adamomentum.data.ner.columns import read_columns
from adamomentum.data.ner.corpus import RawSentence

MIN_LENGTH, MAX_LENGTH = 2, 80  # NERDataConfig's defaults


def write_columns(path: Path, sentences: list[RawSentence]) -> None:
    blocks = ["\n".join(f"{token} {tag}" for token, tag in zip(s.tokens, s.tags, strict=True)) for s in sentences]
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")


def entity_counts(sentences: list[RawSentence]) -> dict[str, int]:
    return dict(sorted(Counter(tag[2:] for s in sentences for tag in s.tags if tag.startswith("B-")).items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--msra-dir", type=Path, required=True, help="folder with msra_train.txt and msra_test.txt")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--train", type=int, default=1000)
    parser.add_argument("--dev", type=int, default=250)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    raw, _ = read_columns(args.msra_dir)
    kept = {split: [s for s in raw[split] or [] if MIN_LENGTH <= len(s.tokens) <= MAX_LENGTH] for split in raw}
    rng = random.Random(args.seed)
    wanted = args.train + args.dev
    if wanted > len(kept["train"]) or args.test > len(kept["test"]):
        parser.error(
            f"--train {args.train} + --dev {args.dev} and --test {args.test} need at most "
            f"{len(kept['train'])} and {len(kept['test'])} sentences of {MIN_LENGTH}-{MAX_LENGTH} tokens"
        )
    drawn = rng.sample(range(len(kept["train"])), wanted)
    train_ids, dev_ids = sorted(drawn[: args.train]), sorted(drawn[args.train :])
    test_ids = sorted(rng.sample(range(len(kept["test"])), args.test))
    splits = {
        "train": [kept["train"][i] for i in train_ids],
        "dev": [kept["train"][i] for i in dev_ids],
        "test": [kept["test"][i] for i in test_ids],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    for name, sentences in splits.items():
        write_columns(args.out / f"{name}.txt", sentences)
    sources = sorted(p for p in args.msra_dir.glob("msra_*.txt"))
    manifest = {
        "seed": args.seed,
        "length_filter": [MIN_LENGTH, MAX_LENGTH],
        "sentences": {name: len(s) for name, s in splits.items()},
        "tokens": {name: sum(len(x.tokens) for x in s) for name, s in splits.items()},
        "entities": {name: entity_counts(s) for name, s in splits.items()},
        "sources": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sources},
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(manifest["sentences"]), json.dumps(manifest["entities"]))


if __name__ == "__main__":
    main()
