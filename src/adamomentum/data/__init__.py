"""Corpora: Penn Treebank for language modelling, NER corpora in three formats."""
