"""All monomials of a few variables up to a degree, fast (used by the recombination fit and the
emulator): each degree's monomials are the previous degree's times one variable."""
from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=8)
def monomial_plan(n_vars: int, degree: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each degree d >= 1: (parent, var) index arrays such that the degree-d monomials are
    monomials_{d-1}[parent] * u[var], in itertools.combinations_with_replacement order."""
    plan: list[tuple[np.ndarray, np.ndarray]] = []
    prev: list[tuple[int, ...]] = [()]
    for d in range(1, degree + 1):
        cur = list(itertools.combinations_with_replacement(range(n_vars), d))
        index_prev = {m: i for i, m in enumerate(prev)}
        plan.append((np.array([index_prev[m[:-1]] for m in cur]), np.array([m[-1] for m in cur])))
        prev = cur
    return plan


def monomials(u: np.ndarray, degree: int) -> np.ndarray:
    """(n, n_terms): the constant, then degree 1, 2, ... monomials of the columns of u (n, n_vars)."""
    u = np.atleast_2d(u)
    blocks = [np.ones((len(u), 1))]
    last = blocks[0]
    for parent, var in monomial_plan(u.shape[1], degree):
        last = last[:, parent] * u[:, var]
        blocks.append(last)
    return np.hstack(blocks)
