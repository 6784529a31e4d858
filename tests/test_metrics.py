"""Metrics on hand-checked cases, chosen where token-level and entity-level F1 disagree."""

from __future__ import annotations

import math
import random

import pytest
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

from adamomentum.metrics import entity_f1, perplexity, token_f1

# A span found only in part: token F1 gives credit for the 2 tokens found, entity F1 gives none.
PARTIAL_GOLD = [["B-PER", "I-PER", "I-PER", "O"]]
PARTIAL_PRED = [["B-PER", "I-PER", "O", "O"]]
# A type error on a 2-token LOC, and a correct 1-token ORG.
TYPED_GOLD = [["B-LOC", "I-LOC", "O", "B-ORG"]]
TYPED_PRED = [["B-ORG", "I-ORG", "O", "B-ORG"]]


def test_partial_span_gets_token_credit_but_no_entity_credit() -> None:
    tokens = token_f1(PARTIAL_GOLD, PARTIAL_PRED)
    # TP = 2 of 2 predicted and 3 gold tokens: P = 1, R = 2/3, F1 = 2 * (2/3) / (5/3) = 0.8
    assert tokens["precision"] == pytest.approx(1.0)
    assert tokens["recall"] == pytest.approx(2 / 3)
    assert tokens["f1"] == pytest.approx(0.8)
    assert tokens["per_type"] == {"PER": pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3})}

    entities = entity_f1(PARTIAL_GOLD, PARTIAL_PRED)
    assert (entities["precision"], entities["recall"], entities["f1"]) == (0.0, 0.0, 0.0)
    assert entities["per_type"] == {"PER": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}}


def test_type_error() -> None:
    tokens = token_f1(TYPED_GOLD, TYPED_PRED)
    # Only the last token is right: TP = 1 of 3 predicted and 3 gold non-O tokens.
    assert tokens["precision"] == pytest.approx(1 / 3)
    assert tokens["recall"] == pytest.approx(1 / 3)
    assert tokens["f1"] == pytest.approx(1 / 3)
    assert tokens["per_type"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}
    # ORG: 1 right of 3 predicted, 1 gold: P = 1/3, R = 1, F1 = 0.5
    assert tokens["per_type"]["ORG"] == pytest.approx({"precision": 1 / 3, "recall": 1.0, "f1": 0.5, "support": 1})

    entities = entity_f1(TYPED_GOLD, TYPED_PRED)
    # Gold LOC[0:2], ORG[3]; predicted ORG[0:2], ORG[3]: 1 of 2 right each way.
    assert entities["f1"] == pytest.approx(0.5)
    assert entities["per_type"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert entities["per_type"]["ORG"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})


def test_micro_average_over_sentences() -> None:
    gold, pred = PARTIAL_GOLD + TYPED_GOLD, PARTIAL_PRED + TYPED_PRED
    tokens = token_f1(gold, pred)
    # TP = 2 + 1, predicted non-O = 2 + 3, gold non-O = 3 + 3: P = 3/5, R = 1/2, F1 = 6/11
    assert (tokens["precision"], tokens["recall"], tokens["f1"]) == pytest.approx((0.6, 0.5, 6 / 11))
    entities = entity_f1(gold, pred)
    # 1 right of 3 predicted and 3 gold entities
    assert (entities["precision"], entities["recall"], entities["f1"]) == pytest.approx((1 / 3, 1 / 3, 1 / 3))


def test_i_after_o_is_an_entity_start_as_in_conlleval() -> None:
    entities = entity_f1([["B-PER", "I-PER", "O"]], [["O", "I-PER", "O"]])
    assert entities["f1"] == 0.0  # the prediction is PER[1:2], not PER[0:2]
    assert token_f1([["B-PER", "I-PER", "O"]], [["O", "I-PER", "O"]])["f1"] == pytest.approx(2 / 3)


def test_nothing_to_find_is_zero_not_an_error() -> None:
    assert token_f1([["O", "O"]], [["O", "O"]]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "per_type": {}}
    assert entity_f1([["O", "O"]], [["O", "O"]])["f1"] == 0.0


def random_tags(rng: random.Random, length: int) -> list[str]:
    return [
        rng.choice(["O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-GPE"]) for _ in range(length)
    ]


def test_entity_f1_equals_seqeval_called_directly() -> None:
    rng = random.Random(0)
    gold = [random_tags(rng, rng.randint(1, 15)) for _ in range(60)]
    pred = [random_tags(rng, len(sentence)) for sentence in gold]

    result = entity_f1(gold, pred)
    assert result["precision"] == pytest.approx(precision_score(gold, pred))
    assert result["recall"] == pytest.approx(recall_score(gold, pred))
    assert result["f1"] == pytest.approx(f1_score(gold, pred))
    report = classification_report(gold, pred, output_dict=True)
    for name, row in result["per_type"].items():
        assert (row["precision"], row["recall"], row["f1"], row["support"]) == pytest.approx(
            (report[name]["precision"], report[name]["recall"], report[name]["f1-score"], report[name]["support"])
        )
    assert set(result["per_type"]) == {"GPE", "LOC", "ORG", "PER"}
    assert all(type(v) in (float, int) for row in result["per_type"].values() for v in row.values())


@pytest.mark.parametrize("metric", [token_f1, entity_f1])
def test_length_mismatch_is_an_error(metric) -> None:
    with pytest.raises(ValueError, match="sentence 1: 2 gold tags but 1 predicted"):
        metric([["O"], ["B-PER", "I-PER"]], [["O"], ["B-PER"]])
    with pytest.raises(ValueError, match="2 gold sentences but 1 predicted"):
        metric([["O"], ["O"]], [["O"]])


def test_perplexity_of_uniform_distribution_is_vocabulary_size() -> None:
    vocabulary, tokens = 10_000, 1234
    assert perplexity(tokens * math.log(vocabulary), tokens) == pytest.approx(vocabulary)
    assert perplexity(0.0, 5) == 1.0


def test_perplexity_edge_cases() -> None:
    with pytest.raises(ValueError, match="total_tokens > 0"):
        perplexity(1.0, 0)
    assert perplexity(1e6, 10) == math.inf
