"""Forecasts: which future data decide between the six explanations (docs/forecast.md).

``specs`` holds the experiments (one table, with citations), ``noise`` the noise and covariance
formulas, ``mocks`` the synthetic (Asimov) likelihoods as whitened data vectors (Euclid's in
``euclid_spec`` and ``shear``, the exact shear C_ell in ``shear_theory``), ``engine`` the
batched Fisher matrices and Gauss-Newton best fits, ``truths`` the true cosmologies, and ``run``
the command's entry point (``run_forecast``).
"""
