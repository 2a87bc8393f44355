"""Inference: samplers, minimisers, profile likelihoods and Bayesian evidence."""
