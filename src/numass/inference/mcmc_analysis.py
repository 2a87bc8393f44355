"""The posterior by Cobaya's Metropolis MCMC: the sampler of backends with no batched path (CAMB).

Order matters for speed: a best fit first, then a Hessian proposal covariance from it, so that
the chain starts in the right place with the right shape and reaches R-1 < 0.01 quickly. Best
fits and profiles are restarted Nelder-Mead on the Cobaya model (bestfit.nelder_mead_fit through
posterior.CobayaPosterior), which tolerates the Boltzmann code's numerical noise.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import cobaya
import numpy as np
from cobaya import mpi
from cobaya.log import LoggedError

from numass.errors import InputError, NumassError
from numass.inference import say
from numass.inference.bestfit import nelder_mead_fit, profile_at, proposal_covmat
from numass.inference.overrides import fixed_value
from numass.inference.posterior import CobayaPosterior
from numass.inference.results import (
    BURN_IN,
    RMINUS1_BOUNDS_STOP,
    chain_root,
    proposal_refs,
    proposal_widths,
)
from numass.inference.summary import posterior_fields
from numass.stats import FLOORS


def _write_covmat(path: Path, names: list[str], cov) -> None:
    path.write_text("# " + " ".join(names) + "\n"
                    + "\n".join(" ".join(f"{c:.10e}" for c in row) for row in cov) + "\n")


def _proposal(post, refs: dict, widths: dict, path: Path) -> dict:
    """Best fit from the reference point and the Hessian proposal there (written to ``path``;
    the diagonal of the proposal widths when no Hessian is positive definite)."""
    bf = nelder_mead_fit(post, [refs], widths)
    cov = proposal_covmat(post, bf, widths)
    if cov is None:
        cov = np.diag([widths[n] ** 2 for n in post.names])
    _write_covmat(path, post.names, cov)
    return bf


# the convergence listener of the running chain: Cobaya stores (and pickles) its sampler
# settings, so the callback it gets is this module's function, which finds the listener here
_LISTENER: list = []


def _report_convergence(sampler) -> None:
    bounds = sampler.progress["Rminus1_cl"].dropna()  # computed once the means converge
    for listener in _LISTENER:
        listener(float(sampler.Rminus1_last), float(bounds.iloc[-1]) if len(bounds) else math.nan,
                 len(sampler.collection))


def _callback(convergence) -> dict:
    """Cobaya mcmc settings that report R-1 to ``convergence`` (none without one)."""
    _LISTENER.clear()
    if convergence is None:
        return {}
    _LISTENER.append(convergence)
    return {"callback_function": _report_convergence}


def _run_mcmc(info: dict, out: Path, resume: bool):
    """cobaya.run with a clear error for chains made with other settings."""
    info["output"] = str(chain_root(out))
    info["resume"] = resume
    info["force"] = not resume  # --restart: overwrite the earlier chains
    try:
        return cobaya.run(info)
    except LoggedError as exc:
        # Cobaya names its own shell flags (-f/--force, -r/--resume, --allow-changes), which
        # numass does not have: say numass's options instead
        text = str(exc)
        if any(k in text for k in ("not compatible", "--force", "--resume", "--allow-changes",
                                   "Bad column names")):
            raise InputError(f"{out / 'chains'} holds chains made with other settings (model, "
                             f"data, sampler or the other sampler's output): use --restart to "
                             f"overwrite them, or another --out folder") from None
        raise NumassError(f"Cobaya stopped: {text}") from None


def _profiles(info, bf, widths, mass_param) -> dict[str, dict]:
    """{floor label: the best fit with the mass fixed at that floor}."""
    return {label: profile_at(info, mass_param, floor, bf, widths)
            for label, floor in FLOORS.items()}


def _refined_best_fit(post, samples, widths, bf) -> dict:
    """Best fit from the chain's two best points (and the first best fit, when there is one)."""
    loglikes = -samples.loglikes
    top = np.argsort(-loglikes)[:2]
    starts = [dict(zip(post.names, samples.samples[i, [samples.index[n] for n in post.names]]))
              for i in top]
    if bf is not None:
        starts.append({n: bf[n] for n in post.names})
    return nelder_mead_fit(post, starts, widths)


def _mcmc_settings(rminus1, covmat_file, max_samples, seed, convergence, mcmc_options) -> dict:
    """Cobaya's ``sampler`` block: MCMC to R-1 < rminus1 from the Hessian proposal."""
    return {"mcmc": {"Rminus1_stop": rminus1, "Rminus1_cl_stop": RMINUS1_BOUNDS_STOP,
                     "covmat": str(covmat_file), "max_samples": max_samples,
                     "learn_every": "20d", "output_every": "5s", "max_tries": "1000d",
                     **({"seed": seed} if seed is not None else {}),
                     **_callback(convergence), **(mcmc_options or {})}}


def _sample(info, out, resume, rminus1, max_samples, seed, convergence, mcmc_options, progress,
            post):
    """(best fit or None, Cobaya's sampler, GetDist samples or None off rank 0): the proposal
    (unless resumed) and the chains."""
    covmat_file = out / "proposal.covmat"
    bf = None
    if not (resume and covmat_file.exists()) and mpi.is_main_process():
        say(progress, "[numass] 1/4 best fit (to start the chain and shape its proposal)")
        bf = _proposal(post, proposal_refs(info), proposal_widths(info), covmat_file)
    mpi.sync_processes()  # under MPI every chain waits for the proposal written by rank 0
    say(progress, f"[numass] 2/4 MCMC to R-1 < {rminus1} (Cobaya; progress below; chains in "
                  f"{out / 'chains'})")
    info["sampler"] = _mcmc_settings(rminus1, covmat_file, max_samples, seed, convergence,
                                     mcmc_options)
    try:
        _, sampler = _run_mcmc(info, out, resume)
    finally:
        _LISTENER.clear()
    products = sampler.products(skip_samples=BURN_IN, to_getdist=True)  # all chains, on rank 0
    return bf, sampler, products["sample"] if mpi.is_main_process() else None


def run_mcmc_analysis(info: dict, model: str, datasets: list[str], out: Path, t0: float,
                      resume: bool, seed: int | None, progress, plot, mass_param: str,
                      rminus1: float, max_samples: int, convergence=None,
                      mcmc_options: dict | None = None) -> dict:
    """Best fit, MCMC, profiles; returns the summary (the caller writes summary.json; {} on an
    MPI rank other than 0)."""
    post = CobayaPosterior.from_info(info)
    widths = proposal_widths(info)
    bf, sampler, samples = _sample(info, out, resume, rminus1, max_samples, seed, convergence,
                                   mcmc_options, progress, post)
    if samples is None:
        return {}
    say(progress, "[numass] 3/4 best fit refined from the chain's best points, and profiles at "
                  "the oscillation floors")
    bf = _refined_best_fit(post, samples, widths, bf)
    fixed_mass = fixed_value(info["params"][mass_param])
    # --fix of the mass: nothing to profile or measure against the floors
    profiles = _profiles(info, bf, widths, mass_param) if fixed_mass is None else None
    columns = {n: samples.samples[:, i] for n, i in samples.index.items()
               if not n.startswith(("chi2", "minuslogprior"))}
    say(progress, "[numass] 4/4 summary and plots")
    reached = float(getattr(sampler, "Rminus1_last", math.nan))
    summary = {
        "model": model, "datasets": datasets, "backend": info["theory"]["numass"]["backend"],
        "sampler": "mcmc",  # chain readers drop the burn-in (results.burn_in)
        **posterior_fields(post.names, columns, samples.weights, bf, profiles, mass_param,
                           fixed_mass),
        "rminus1": reached,
        "converged": bool(reached < rminus1) if math.isfinite(reached) else False,
        "n_samples": int(samples.numrows),
        "n_theory_failures": int(getattr(post.model.theory["numass"], "n_failures", 0)),
        "chains": str(chain_root(out)),
    }
    if plot is not None:
        summary["triangle_plot"] = str(plot(
            samples, out / "triangle.png", params=[n for n in [mass_param, *post.names]
                                                   if n in samples.index]))
    summary["wall_seconds"] = round(time.time() - t0, 1)
    return summary
