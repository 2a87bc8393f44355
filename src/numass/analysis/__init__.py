"""Analyses built on the likelihoods: comparisons of hypotheses, tensions, summaries."""
