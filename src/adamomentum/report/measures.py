"""What each task measures: the metric that picks the best evaluation, the headline metric, the paper's numbers."""

from __future__ import annotations

# Table 1 and Section 4 of the paper.
PAPER_PTB_TEST_PPL = {"sgd": 115.0, "momentum": 108.0, "adagrad": 140.0, "adamomentum": 106.0}
PAPER_NER_TOKEN_F1 = {"adamomentum": 0.75}

# metrics.jsonl key that picks the best evaluation, and whether lower is better (as the tasks do).
SELECTION = {"ptb": ("valid_ppl", True), "ner": ("valid_token_f1", False)}
# Per task: the metric the seed statistics compare, its label, and whether lower is better.
HEADLINE = {"ptb": ("test_ppl", "final test perplexity", True), "ner": ("test_token_f1", "final test token F1", False)}
