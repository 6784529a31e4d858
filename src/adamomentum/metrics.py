"""Evaluation metrics: perplexity for language modelling, token- and entity-level F1 for NER.

The paper reports a token-level F1 for NER; entity-level (exact span) F1 is the number the rest of
the NER literature reports, so both are computed to make the results comparable either way.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any


def perplexity(total_nll: float, total_tokens: int) -> float:
    """``exp(total_nll / total_tokens)``, from summed natural-log NLL so that batches of
    different sizes weigh by tokens, not by batch.

    A diverged run returns ``inf`` instead of raising, so that it is logged rather than crashing
    the evaluation.
    """
    if total_tokens <= 0:
        raise ValueError(f"perplexity needs total_tokens > 0, got {total_tokens}; was the split empty?")
    try:
        return math.exp(total_nll / total_tokens)
    except OverflowError:
        return math.inf


def token_f1(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, Any]:
    """The paper's token-level F1: credit for every token typed right, not only for whole spans.

    Each tag is reduced to its type by stripping a ``B-``/``I-`` (or any one-letter) prefix;
    ``O`` stays ``O``. A token is a true positive when its predicted type equals its gold type
    and that type is not ``O``. Micro-averaged over all tokens:

    - precision = TP / #(tokens with predicted type != O)
    - recall    = TP / #(tokens with gold type != O)
    - F1        = 2PR / (P + R)

    each 0 where its denominator is 0. ``per_type[t]`` applies the same formulas to type ``t``
    alone, with ``support`` = the number of gold tokens of type ``t``. Because prefixes are
    ignored, a span predicted with the right type but wrong boundaries earns partial credit,
    which entity-level F1 does not give.
    """
    _check_same_shape(gold, pred)
    true_positive: Counter[str] = Counter()
    gold_count: Counter[str] = Counter()
    pred_count: Counter[str] = Counter()
    for gold_sentence, pred_sentence in zip(gold, pred):
        for gold_tag, pred_tag in zip(gold_sentence, pred_sentence):
            gold_type, pred_type = _tag_type(gold_tag), _tag_type(pred_tag)
            gold_count[gold_type] += 1
            pred_count[pred_type] += 1
            if gold_type == pred_type:
                true_positive[gold_type] += 1
    for counts in (true_positive, gold_count, pred_count):
        counts.pop("O", None)

    per_type = {
        t: {**_prf(true_positive[t], pred_count[t], gold_count[t]), "support": gold_count[t]}
        for t in sorted(gold_count.keys() | pred_count.keys())
    }
    total = _prf(sum(true_positive.values()), sum(pred_count.values()), sum(gold_count.values()))
    return {**total, "per_type": per_type}


def entity_f1(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Exact-span entity F1 with conlleval semantics (seqeval's default mode), micro-averaged.

    Delegated to seqeval so the numbers match what other NER papers report; an ``I-X`` after
    ``O`` starts an entity, as in conlleval. Same return shape as :func:`token_f1`, with
    ``support`` = the number of gold entities of the type.
    """
    # Imported here: seqeval pulls in scikit-learn, which the language-model task does not need.
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    _check_same_shape(gold, pred)
    gold_lists = [list(sentence) for sentence in gold]
    pred_lists = [list(sentence) for sentence in pred]
    # zero_division=0 gives the same values as seqeval's default, without its warnings; with no
    # entity at all, seqeval's report would average an empty list, hence the guard.
    any_entity = any(tag != "O" for sentence in gold_lists + pred_lists for tag in sentence)
    report = classification_report(gold_lists, pred_lists, output_dict=True, zero_division=0) if any_entity else {}
    per_type = {
        name: {
            "precision": float(row["precision"]),
            "recall": float(row["recall"]),
            "f1": float(row["f1-score"]),
            "support": int(row["support"]),
        }
        for name, row in sorted(report.items())
        if not name.endswith(" avg")
    }
    return {
        "precision": float(precision_score(gold_lists, pred_lists, zero_division=0)),
        "recall": float(recall_score(gold_lists, pred_lists, zero_division=0)),
        "f1": float(f1_score(gold_lists, pred_lists, zero_division=0)),
        "per_type": per_type,
    }


def _tag_type(tag: str) -> str:
    return tag[2:] if len(tag) > 2 and tag[1] == "-" else tag


def _prf(true_positive: int, predicted: int, actual: int) -> dict[str, float]:
    precision = true_positive / predicted if predicted else 0.0
    recall = true_positive / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def _check_same_shape(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> None:
    """seqeval compares flattened tag lists, so a length mismatch would shift every later tag."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted; pass one prediction per sentence")
    for index, (gold_sentence, pred_sentence) in enumerate(zip(gold, pred)):
        if len(gold_sentence) != len(pred_sentence):
            raise ValueError(
                f"sentence {index}: {len(gold_sentence)} gold tags but {len(pred_sentence)} predicted; "
                "predict one tag per token (strip padding first)"
            )
