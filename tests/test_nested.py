"""nautilus on batches: ln Z of an analytic Gaussian within its error, GetDist chain files,
resume from a checkpoint, and (slow) the embedded LCDM posterior against the MCMC numbers."""
import math
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from numass.inference.nested import run_nautilus, sampling_box, write_getdist_chain
from numass.inference.posterior import BatchResult, Prior1D

SMALL = dict(n_live=200, n_eff=800, n_networks=1)


class GaussianPosterior:
    """A correlated normalised Gaussian likelihood on a flat prior [-10, 10]^d: Z = 20^-d.
    Duck-types BatchPosterior (names, priors, bounds, logprior, evaluate)."""

    backend_name, likelihoods, derived_names = "analytic", {"gauss": None}, ["xsum"]

    def __init__(self, d: int = 3):
        rng = np.random.default_rng(0)
        a = rng.standard_normal((d, d))
        self.cov = a @ a.T / d + 0.5 * np.eye(d)
        self.mean = rng.uniform(-1, 1, d)
        self.priors = [Prior1D(f"x{i}", "uniform", -10.0, 10.0) for i in range(d)]
        self.names = [p.name for p in self.priors]
        self.ndim, self.ln_z = d, -d * math.log(20.0)
        self.bounds = np.array([p.bounds for p in self.priors])

    def logprior(self, x):
        return sum(p.logpdf(np.atleast_2d(x)[:, i]) for i, p in enumerate(self.priors))

    def evaluate(self, x):
        x = np.atleast_2d(x)
        lp, ll = self.logprior(x), multivariate_normal(self.mean, self.cov).logpdf(x)
        return BatchResult(logpost=lp + ll, logprior=lp, loglikes={"gauss": ll},
                           derived={"xsum": x.sum(axis=1)})


@pytest.fixture(scope="module")
def gaussian_run(tmp_path_factory):
    post = GaussianPosterior()
    out = tmp_path_factory.mktemp("gauss")
    res = run_nautilus(post, sampling_box(post), out, seed=1, say=None, **SMALL)
    return post, out, res


def test_evidence_of_a_gaussian_within_its_error(gaussian_run):
    post, _, res = gaussian_run
    assert res["n_eff"] >= SMALL["n_eff"]
    assert res["ln_evidence_err"] == pytest.approx(1 / math.sqrt(res["n_eff"]))
    assert abs(res["ln_evidence"] - post.ln_z) < 3 * res["ln_evidence_err"]
    mean = np.average(res["points"], axis=0, weights=res["weights"])
    assert np.all(np.abs(mean - post.mean) < 0.15 * np.sqrt(np.diag(post.cov)))


def test_box_mass_is_added_back(gaussian_run):
    """The same Gaussian in a smaller box: ln Z_box is larger by exactly -ln P(box)."""
    post, out, _ = gaussian_run
    box = {n: (m - 6 * s, m + 6 * s) for n, m, s in zip(post.names, post.mean,
                                                        np.sqrt(np.diag(post.cov)))}
    res = run_nautilus(post, box, out / "box", seed=2, say=None, **SMALL)
    assert res["ln_prior_mass_of_box"] < -1.5
    assert abs(res["ln_evidence"] - post.ln_z) < 3 * res["ln_evidence_err"]
    assert max(res["edge_weight"].values()) < 1e-3


def test_chain_files_read_by_getdist(gaussian_run):
    from getdist import loadMCSamples

    post, out, res = gaussian_run
    root = write_getdist_chain(out / "chains" / "numass", post, res)
    s = loadMCSamples(str(root), settings={"ignore_rows": 0})
    assert s.mean("x0") == pytest.approx(np.average(res["points"][:, 0], weights=res["weights"]))
    assert s.mean("xsum") == pytest.approx(post.mean.sum(), abs=0.3)
    assert s.ranges.getLower("x1") == -10.0


def test_resume_from_a_checkpoint(tmp_path):
    """A run stopped early (as by a kill) leaves its checkpoint; a new sampler resumes from it."""
    post = GaussianPosterior(d=2)
    box = sampling_box(post)
    first = run_nautilus(post, box, tmp_path, seed=3, say=None, n_like_max=1500, **SMALL)
    assert not first["finished"] and (tmp_path / "chains" / "nautilus.hdf5").exists()
    done = run_nautilus(post, box, tmp_path, seed=3, say=None, **SMALL)
    assert done["finished"] and done["n_calls"] > first["n_calls"]
    assert abs(done["ln_evidence"] - post.ln_z) < 3 * done["ln_evidence_err"]


def test_an_unreadable_checkpoint_starts_the_run_afresh(tmp_path):
    """A kill while the checkpoint was written (seen after Ctrl-C in compare: 'can't locate
    attribute rng_state') must not make the job fail on the next run."""
    post = GaussianPosterior(d=2)
    box = sampling_box(post)
    run_nautilus(post, box, tmp_path, seed=3, say=None, n_like_max=500, **SMALL)
    ckpt = tmp_path / "chains" / "nautilus.hdf5"
    import h5py

    def strip(name, obj):  # what an interrupted write leaves: attributes missing
        for key in list(obj.attrs):
            del obj.attrs[key]

    with h5py.File(ckpt, "a") as f:
        strip("/", f)
        f.visititems(strip)
    done = run_nautilus(post, box, tmp_path, seed=3, say=None, **SMALL)
    assert done["finished"] and abs(done["ln_evidence"] - post.ln_z) < 3 * done["ln_evidence_err"]
    assert (tmp_path / "chains" / "nautilus.unreadable.hdf5").exists()


def test_other_settings_refuse_to_resume(tmp_path):
    from numass.errors import InputError

    post = GaussianPosterior(d=2)
    run_nautilus(post, sampling_box(post), tmp_path, seed=3, say=None, n_like_max=500, **SMALL)
    with pytest.raises(InputError, match="--restart"):
        run_nautilus(post, sampling_box(post), tmp_path, seed=3, say=None, n_live=300,
                     n_eff=800, n_like_max=500)


@pytest.mark.slow
def test_embedded_lcdm_matches_the_mcmc_numbers(tmp_path):
    """docs/compare.md (MCMC, R-1 < 0.01): Sigma m_nu,eff = -0.140 +- 0.087 eV."""
    from numass.inference.nested_analysis import NestedSettings
    from numass.inference.pipeline import run_analysis

    s = run_analysis(out=tmp_path, sampler="nautilus", seed=4, progress=None, plot=None,
                     nested=NestedSettings(n_live=500, n_eff=2000, n_networks=2))
    m = s["mnu_eff"]
    assert abs(m["mean"] + 0.140) < 0.2 * 0.087 and abs(m["std"] / 0.087 - 1) < 0.1
    assert max(s["box_edge_weight"].values()) < 1e-3


class InterruptedPosterior(GaussianPosterior):
    """Sends itself Ctrl-C (SIGINT) at its ``at``-th batch, as a user would mid-run."""

    def __init__(self, at: int, d: int = 2):
        super().__init__(d)
        self.at, self.calls = at, 0

    def evaluate(self, x):
        self.calls += 1
        if self.calls == self.at:
            os.kill(os.getpid(), signal.SIGINT)
        return super().evaluate(x)


def _same_run(a: dict, b: dict) -> None:
    """Bit-identical results: the same points, weights and evidence."""
    assert a["n_calls"] == b["n_calls"]
    assert np.array_equal(a["points"], b["points"]) and np.array_equal(a["weights"], b["weights"])
    assert a["ln_evidence"] == b["ln_evidence"]


@pytest.fixture
def sigint_default():
    """Ctrl-C as in a terminal, also where pytest runs with SIGINT ignored (a background job)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("at", [3, 9])  # exploration with one bound / after several bounds
def test_ctrl_c_mid_sampling_resumes_to_the_same_numbers(tmp_path, at, sigint_default):
    post = GaussianPosterior(d=2)
    box = sampling_box(post)
    whole = run_nautilus(post, box, tmp_path / "whole", seed=5, say=None, **SMALL)
    with pytest.raises(KeyboardInterrupt):
        run_nautilus(InterruptedPosterior(at), box, tmp_path / "cut", seed=5, say=None, **SMALL)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    _same_run(run_nautilus(post, box, tmp_path / "cut", seed=5, say=None, **SMALL), whole)


def test_ctrl_c_in_network_training_is_not_swallowed(tmp_path, monkeypatch, sigint_default):
    """scikit-learn catches KeyboardInterrupt in training and keeps a half-trained network; the
    run must stop before that network reaches the checkpoint, and resume as if never stopped."""
    import nautilus.neural

    post = GaussianPosterior(d=2)
    box = sampling_box(post)
    whole = run_nautilus(post, box, tmp_path / "whole", seed=6, say=None, **SMALL)
    real, calls = nautilus.neural.train_network, []

    def swallowing(*args, **kwargs):  # what MLPRegressor.fit does with a Ctrl-C
        calls.append(1)
        if len(calls) == 2:
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.01)
            except KeyboardInterrupt:
                pass
        return real(*args, **kwargs)

    monkeypatch.setattr(nautilus.neural, "train_network", swallowing)
    with pytest.raises(KeyboardInterrupt):
        run_nautilus(post, box, tmp_path / "cut", seed=6, say=None, **SMALL)
    assert nautilus.neural.train_network is swallowing  # the guard is removed again
    monkeypatch.setattr(nautilus.neural, "train_network", real)
    _same_run(run_nautilus(post, box, tmp_path / "cut", seed=6, say=None, **SMALL), whole)


HDF5_ENOSPC = ("Can't decrement id ref count (file write failed: time = Thu, filename = 'x', "
               "errno = 28, error message = 'No space left on device', buf = 0x1)")


@pytest.mark.slow
@pytest.mark.parametrize("method", ["write", "write_shell_update"])
def test_a_full_disk_leaves_no_misleading_checkpoint(tmp_path, monkeypatch, method):
    """A checkpoint write that fails (HDF5 on a full disk) is an OSError naming the file; a
    failed whole write keeps the previous checkpoint, a failed in-place update sets it aside
    (the rerun starts afresh rather than read a mixture)."""
    import nautilus

    import numass.inference.nested_checkpoint as guard

    monkeypatch.setattr(guard, "_exit_registered", True)  # no exit hook in the test process
    post = GaussianPosterior(d=2)
    box = sampling_box(post)
    run_nautilus(post, box, tmp_path, seed=3, say=None, n_like_max=1500, **SMALL)
    ckpt = tmp_path / "chains" / "nautilus.hdf5"
    real = getattr(nautilus.Sampler, method)

    def full_disk(self, filepath, *args, **kwargs):
        if method == "write":
            Path(filepath).write_bytes(b"half")  # what a cut write leaves
        raise RuntimeError(HDF5_ENOSPC)

    monkeypatch.setattr(nautilus.Sampler, method, full_disk)
    with pytest.raises(OSError) as exc:
        run_nautilus(post, box, tmp_path, seed=3, say=None, **SMALL)
    assert exc.value.errno == 28 and exc.value.strerror == "No space left on device"
    assert not (tmp_path / "chains" / "nautilus.tmp.hdf5").exists()
    if method == "write":
        assert exc.value.filename.endswith("nautilus.tmp.hdf5") and ckpt.exists()
    else:
        assert exc.value.filename == str(ckpt) and not ckpt.exists()
        assert (tmp_path / "chains" / "nautilus.failed-write.hdf5").exists()
    monkeypatch.setattr(nautilus.Sampler, method, real)
    # the rerun: from the last consistent checkpoint, or afresh; either way the same numbers
    _same_run(run_nautilus(post, box, tmp_path, seed=3, say=None, **SMALL),
              run_nautilus(post, box, tmp_path / "whole", seed=3, say=None, **SMALL))
