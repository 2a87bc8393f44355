"""Inference: samplers, minimisers, profile likelihoods and Bayesian evidence."""

# the samplers of a posterior run, with one line on each (the command line lists these)
SAMPLERS = {
    "mcmc": "Cobaya's Metropolis MCMC with a Hessian proposal from the best fit; stops at "
            "Gelman-Rubin R-1 < --rminus1",
    "nautilus": "nautilus's neural-network nested sampling: the posterior and ln Z in one run",
}


def say(progress, msg: str) -> None:
    """A progress message to ``progress`` (a callable; None: silent)."""
    if progress:
        progress(msg)
