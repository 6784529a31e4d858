"""What each task measures and how the report shows it: the metric that selects an evaluation (validation,
never test), the headline metric, the curves of its figure, and the paper's numbers (from ``paper``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from adamomentum.measures import TEST_ENTITY_F1, TEST_F1, TEST_PPL, VALID_F1, VALID_PPL, Measure
from adamomentum.report.paper import NER_BOUND_FORMAT, NER_TEST_F1_BOUND, TABLE1_FORMAT, TABLE1_TEST_PERPLEXITY


@dataclass(frozen=True)
class TaskDescription:
    """How the report shows a task's runs (the runs themselves are ``adamomentum.tasks``')."""

    name: str
    title: str
    # The results.md section heading: what of the paper the runs redo.
    heading: str
    model: str
    figure: str
    figure_file: str
    # metrics.jsonl key of a figure's x axis, and its label.
    x_key: str
    x_label: str
    # Picks the best evaluation.
    selection: Measure
    # What the tables and statistics compare; its final value and its value at the best selection.
    headline: Measure
    # The panels of the task's figure.
    curves: tuple[Measure, ...]
    # The paper's headline numbers, and how they are written (a bound for NER: "0.75+").
    paper: dict[str, float]
    paper_format: str
    paper_label: str
    # The training loss per token of a uniform guess over the output classes (ln |V|), and it in words:
    # a run above it has blown up (report/blowup.py).
    uniform_loss: float
    uniform_words: str
    # Shown beside the headline over seeds (NER: entity F1 beside token F1), not compared or judged.
    beside: tuple[Measure, ...] = ()


TASKS = {
    "ptb": TaskDescription(
        name="ptb",
        title="Penn Treebank",
        heading="Penn Treebank (Table 1)",
        model="2x256 LSTM",
        figure="Figure 1",
        figure_file="figure1_ptb.png",
        x_key="step",
        x_label="training batches",
        selection=VALID_PPL,
        headline=TEST_PPL,
        curves=(VALID_PPL, TEST_PPL),
        paper=TABLE1_TEST_PERPLEXITY,
        paper_format=TABLE1_FORMAT,
        paper_label="the paper's final test perplexity (Table 1)",
        uniform_loss=math.log(10_000),
        uniform_words="ln 10,000 = 9.21, a uniform guess over the vocabulary",
    ),
    "ner": TaskDescription(
        name="ner",
        title="Chinese NER",
        heading="Chinese NER (Figure 2)",
        model="2-layer BiLSTM",
        figure="Figure 2",
        figure_file="figure2_ner.png",
        x_key="epoch",
        x_label="epoch",
        selection=VALID_F1,
        headline=TEST_F1,
        curves=(TEST_F1,),
        paper=NER_TEST_F1_BOUND,
        paper_format=NER_BOUND_FORMAT,
        paper_label="the paper's test token F1 (above it)",
        # B- and I- tags of the four entity types, and O.
        uniform_loss=math.log(9),
        uniform_words="ln 9 = 2.20, a uniform guess over the 9 tags",
        beside=(TEST_ENTITY_F1,),
    ),
}
