"""Nested sampling with nautilus on a BatchPosterior: posterior samples and ln Z in one run.

nautilus (PyPI ``nautilus-sampler``; Lange 2023, MNRAS 525, 3181) proposes points in batches
from neural-network-shaped bounds and calls the likelihood on whole batches (``vectorized``),
which is what the batched theory and likelihoods are for. It returns importance-weighted points,
from which the posterior (written as GetDist chains) and ln Z follow.

The prior is Cobaya's, truncated to a box: the priors are wide (theta_MC in [0.5, 10]) and the
emulator serves a tiny box inside them, so nautilus samples the prior restricted to ``box`` (the
emulator's box for emulated backends, intersected with best fit +- 20 sigma of the Hessian) and
ln Z = ln Z_box + sum_i ln P_i(box_i), exact when the likelihood outside the box is negligible
(the same convention as evidence.log_evidence). 'edge_weight' reports the posterior weight within
1% of a box edge that is not a prior edge; above ~1e-3 the box cut the posterior.

The error of ln Z. nautilus gives none. Its estimate is a sum over shells of (shell volume x
mean likelihood of the shell's points), each an importance-sampling mean whose relative variance
is 1 / n_eff(shell); summed with the shells' weights this is 1 / n_eff of the whole run, so we
quote sigma(ln Z) = 1 / sqrt(n_eff) (nautilus's n_eff). It leaves out the error of the shells'
volume estimates; tests/test_nested.py checks it against the exact ln Z of a Gaussian.
"""
from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import numpy as np

from numass.errors import InputError
from numass.fileio import atomic_write_json
from numass.inference.nested_checkpoint import StopOnInterrupt

log = logging.getLogger("numass")

# as the comparison's jobs (docs/compare.md measured n_live 1000 against 500 there: the same
# numbers at 1.1x the CPU): 500 live points, ~50-70 per dimension for d <= 10
N_LIVE = 500
N_EFF = 10_000  # mean to 0.01 sigma, counted tails to p ~ 0.1, sigma(ln Z) = 0.01
BOX_WIDTH = 20.0  # Hessian sigmas on each side of the best fit
EDGE_WARN = 1e-3
CHECKPOINT = "nautilus.hdf5"


def batch_size(n_live: int) -> int:
    """Points per likelihood call: half the live set. nautilus's default (100) leaves the batched
    likelihoods at a per-point cost ~1.5x their n = 1000 cost; much larger batches delay new
    bounds (more calls). Measured on the full-data LCDM job (500 live points, n_eff 10 000):
    100 -> 66 s / 35 200 calls, 250 -> 49 s / 39 000, 500 -> 46 s / 43 500."""
    return max(100, n_live // 2)


def emulator_box(post) -> dict[str, tuple[float, float]]:
    """The emulator's served box on the sampled parameters it names (emulated backends only;
    Sigma m_nu,eff's |value| <= 0.6 eV covers every prior of it): the training box, with w0 up
    to design.W0_MAX and wa down to design.WA_MIN, where the late-time transfer serves the
    'emulator' backend's w0wa points (emulator/transfer.py; outside its band in wa the points get
    -inf, as w0 + wa >= -0.7 does; a prior wider than DESI's wa >= -3 is sampled down to -5)."""
    if "emulator" not in post.backend_name:
        return {}
    from numass.emulator import design

    return {n: design.SERVED_BOX[n] for n in post.names if n in design.SERVED_BOX}


def sampling_box(post, bestfit: dict | None = None, width: float = BOX_WIDTH) -> dict:
    """{param: (lo, hi)}: the prior's edges, cut by the emulator's box and by best fit +-
    ``width`` sigma (from bestfit['covariance'], when given and positive definite)."""
    bounds = post.bounds
    box = {n: (float(lo), float(hi)) for n, (lo, hi) in zip(post.names, bounds)}
    for n, (lo, hi) in emulator_box(post).items():
        box[n] = (max(box[n][0], lo), min(box[n][1], hi))
    if bestfit is not None and bestfit.get("covariance") is not None:
        sd = np.sqrt(np.diag(np.asarray(bestfit["covariance"])))
        for n, s in zip(post.names, sd):
            box[n] = (max(box[n][0], bestfit[n] - width * s), min(box[n][1], bestfit[n] + width * s))
    infinite = [n for n, (lo, hi) in box.items() if not (math.isfinite(lo) and math.isfinite(hi))
                and post.priors[post.names.index(n)].kind == "uniform"]
    if infinite:
        raise InputError(f"no finite sampling box for {', '.join(infinite)}")
    empty = [n for n, (lo, hi) in box.items() if not lo < hi]
    if empty:
        raise InputError(f"the sampling box is empty for {', '.join(empty)} (the best fit is "
                         f"outside the prior or the emulator's box)")
    return box


class TruncatedPrior:
    """The unit cube -> the prior truncated to ``box``, through each 1-d prior's inverse CDF."""

    def __init__(self, post, box: dict):
        self.dists = [p.dist for p in post.priors]
        self.cdf_lo = np.array([d.cdf(box[n][0]) for d, n in zip(self.dists, post.names)])
        self.cdf_hi = np.array([d.cdf(box[n][1]) for d, n in zip(self.dists, post.names)])
        if np.any(self.cdf_hi <= self.cdf_lo):
            raise InputError("the sampling box has no prior mass in "
                             + ", ".join(n for n, a, b in zip(post.names, self.cdf_lo,
                                                               self.cdf_hi) if b <= a))
        self.ln_mass = float(np.sum(np.log(self.cdf_hi - self.cdf_lo)))

    def __call__(self, u: np.ndarray) -> np.ndarray:
        u = np.atleast_2d(u)
        q = self.cdf_lo + u * (self.cdf_hi - self.cdf_lo)
        return np.column_stack([d.ppf(q[:, i]) for i, d in enumerate(self.dists)])


class Progress:
    """A progress line every ``every`` seconds: calls so far, their rate, the best ln L."""

    def __init__(self, say, every: float = 15.0):
        self.say, self.every = say, every
        self.t0 = self.last = time.time()
        self.calls, self.best = 0, -math.inf

    def __call__(self, loglike: np.ndarray) -> None:
        self.calls += len(loglike)
        if len(loglike):
            self.best = max(self.best, float(np.max(loglike)))
        now = time.time()
        if self.say is not None and now - self.last > self.every:
            self.last = now
            self.say(f"[numass] nautilus: {self.calls} likelihood calls "
                     f"({self.calls / (now - self.t0):.0f}/s), best chi2 {-2 * self.best:.2f}")


def _likelihood(post, blobs: list[str], progress: Progress,
                stop: StopOnInterrupt | None = None):
    def loglike(x: np.ndarray):
        if stop is not None:
            stop.check()
        r = post.evaluate(x)
        ll = r.logpost - r.logprior  # ln L: the prior enters through the cube transform
        ll = np.where(np.isfinite(ll), ll, -np.inf)
        progress(ll[np.isfinite(ll)])
        if not blobs:
            return ll
        return (ll, *[r.derived[k] for k in blobs])
    return loglike


def _settings_match(path: Path, settings: dict) -> bool:
    return not path.exists() or json.loads(path.read_text()) == settings


def run_nautilus(post, box: dict, out: str | Path, n_live: int = N_LIVE, n_eff: int = N_EFF,
                 seed: int | None = None, resume: bool = True, say=print,
                 n_like_max: float = math.inf, n_networks: int = 4) -> dict:
    """Sample ``post`` within ``box`` with nautilus; checkpoint in out/chains/nautilus.hdf5.

    Returns {'points' (m, d), 'weights' (m,), 'loglike', 'derived' {name: (m,)},
    'ln_evidence', 'ln_evidence_err', 'ln_evidence_box', 'ln_prior_mass_of_box', 'n_eff',
    'n_calls', 'edge_weight', 'box', 'finished'}.
    """
    from nautilus import Sampler

    folder = Path(out) / "chains"
    folder.mkdir(parents=True, exist_ok=True)
    ckpt, settings_file = folder / CHECKPOINT, folder / "nautilus_settings.json"
    settings = {"names": post.names, "box": {k: list(v) for k, v in box.items()},
                "n_live": n_live, "seed": seed, "datasets": list(post.likelihoods),
                "backend": post.backend_name}
    if not resume:
        ckpt.unlink(missing_ok=True)
    elif not _settings_match(settings_file, settings):
        raise InputError(f"the nautilus checkpoint in {folder} was made with other settings "
                         f"(model, data, box or live points); use --restart to overwrite it, "
                         f"or another --out folder")
    atomic_write_json(settings_file, settings, indent=1)
    prior = TruncatedPrior(post, box)
    blobs = [k for k in post.derived_names]
    progress, stop = Progress(say), StopOnInterrupt()

    def make(resume_from_file: bool):
        sampler = Sampler(prior, _likelihood(post, blobs, progress, stop), n_dim=post.ndim,
                          n_live=n_live, n_networks=n_networks, vectorized=True,
                          pass_dict=False, n_batch=batch_size(n_live),
                          seed=seed, filepath=str(ckpt), resume=resume_from_file,
                          blobs_dtype=[(k, "f8") for k in blobs] if blobs else None)
        stop.guard_writes(sampler)
        return sampler

    try:
        sampler = make(resume)
    except (KeyError, OSError, ValueError) as exc:
        # a kill while nautilus wrote its checkpoint leaves it unreadable: keep it aside, start
        # this run afresh (finished runs are not affected)
        ckpt.replace(ckpt.with_suffix(".unreadable.hdf5"))
        (say or print)(f"[numass] nautilus: the checkpoint {ckpt} could not be read ({exc}); "
                       f"kept as {ckpt.with_suffix('.unreadable.hdf5').name}, starting afresh")
        sampler = make(False)
    with np.errstate(all="ignore"), stop:
        finished = sampler.run(n_eff=n_eff, n_like_max=n_like_max, discard_exploration=True,
                               verbose=False)
    return _results(sampler, post, prior, box, blobs, finished)


def _results(sampler, post, prior, box, blobs, finished) -> dict:
    if blobs:
        points, log_w, log_l, blob = sampler.posterior(return_blobs=True)
        derived = {k: np.asarray(blob[k], dtype=float) for k in blobs}
    else:
        points, log_w, log_l = sampler.posterior()
        derived = {}
    keep = np.isfinite(log_w) & (log_w > log_w.max() - 40)  # weights below e^-40 are nothing
    w = np.exp(log_w[keep] - log_w[keep].max())
    points = points[keep]
    n_eff = float(sampler.n_eff)
    ln_z_box = float(sampler.log_z)
    return {"points": points, "weights": w / w.sum(), "loglike": log_l[keep],
            "derived": {k: v[keep] for k, v in derived.items()},
            "ln_evidence": ln_z_box + prior.ln_mass,
            "ln_evidence_err": 1.0 / math.sqrt(n_eff) if n_eff > 0 else math.inf,
            "ln_evidence_box": ln_z_box, "ln_prior_mass_of_box": prior.ln_mass,
            "n_eff": n_eff, "n_calls": int(sampler.n_like),
            "edge_weight": edge_weight(post, points, w / w.sum(), box),
            "box": {k: [float(a), float(b)] for k, (a, b) in box.items()},
            "finished": bool(finished) if finished is not None else n_eff >= 0}


def edge_weight(post, points: np.ndarray, weights: np.ndarray, box: dict,
                near: float = 0.01) -> dict[str, float]:
    """Posterior weight within ``near`` x width of each box edge that is not a prior edge."""
    out = {}
    for i, (n, (lo_p, hi_p)) in enumerate(zip(post.names, post.bounds)):
        lo, hi = box[n]
        tol = near * (hi - lo)
        w = 0.0
        if lo > lo_p:
            w += float(weights[points[:, i] < lo + tol].sum())
        if hi < hi_p:
            w += float(weights[points[:, i] > hi - tol].sum())
        out[n] = w
    return out


def write_getdist_chain(root: str | Path, post, result: dict, latex: dict | None = None) -> Path:
    """GetDist chain files at ``root`` (e.g. out/chains/numass): root.1.txt (weight, -logpost,
    sampled, derived), root.paramnames (derived marked '*') and root.ranges (the prior's edges)."""
    root = Path(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    latex = latex or {}
    x = result["points"]
    logpost = result["loglike"] + post.logprior(x)
    derived = list(result["derived"])
    cols = [result["weights"] / result["weights"].max(), -logpost, *x.T,
            *[result["derived"][k] for k in derived]]
    np.savetxt(f"{root}.1.txt", np.column_stack(cols), fmt="%.10e")
    names = [f"{n}\t{latex.get(n, n)}" for n in post.names]
    names += [f"{k}*\t{latex.get(k, k)}" for k in derived]
    Path(f"{root}.paramnames").write_text("\n".join(names) + "\n")
    ranges = [f"{n}\t{lo:.10g}\t{hi:.10g}" for n, (lo, hi) in zip(post.names, post.bounds)
              if math.isfinite(lo) and math.isfinite(hi)]
    Path(f"{root}.ranges").write_text("\n".join(ranges) + "\n")
    return root
