"""The batched posterior equals Cobaya's model.logpost and loglikes, and batched best fits and
profiles agree with Cobaya's Nelder-Mead."""
import numpy as np
import pytest

from numass.errors import InputError
from numass.inference.posterior import BatchPosterior, parse_prior
from numass.inference.results import proposal_refs as _refs
from numass.inference.results import proposal_widths as _widths
from numass.inference.setup import build_info

FULL = ["desi-dr2-bao", "planck2018-plik-lite-TTTEEE", "planck2018-lowl-TT", "tau-prior",
        "act-dr6-lensing"]


def _points(info, names, n, spread, seed=1):
    rng = np.random.default_rng(seed)
    refs, widths = _refs(info), _widths(info)
    return np.array([[refs[k] + spread * widths[k] * rng.standard_normal() for k in names]
                     for _ in range(n)])


def _compare_with_cobaya(info, x, data_dir=None):
    """Equal to Cobaya to 1e-8 on the per-point code's background grids ('exact'); the default
    fast background (Gauss-Legendre, within 1e-8 relative of those grids in every product) moves
    ln P by far less than 1e-4 at these points."""
    from cobaya.model import get_model

    post = BatchPosterior(info, data_dir=data_dir)
    fast = post.evaluate(x)
    post.backend.inner.batch_accuracy = "exact"
    r = post.evaluate(x)
    model = get_model(info)
    for i, row in enumerate(x):
        point = dict(zip(post.names, row))
        expected = model.logpost(point)
        assert r.logpost[i] == pytest.approx(expected, abs=1e-8, rel=1e-10)
        assert fast.logpost[i] == pytest.approx(expected, abs=1e-4)
        if np.isfinite(expected):
            res = model.logposterior(point, as_dict=True)
            for lik, value in res["loglikes"].items():
                assert r.loglikes[lik][i] == pytest.approx(value, abs=1e-8)
    return post, r


def test_equals_cobaya_on_embedded_data():
    info = build_info("lcdm", ["desi-dr2-bao", "cmb-compressed"])
    x = _points(info, list(_widths(info)), 12, 5.0)
    x[0, 0] = -1.0  # outside the omega_b prior: -inf in both
    _, r = _compare_with_cobaya(info, x)
    assert r.logpost[0] == -np.inf and np.all(np.isfinite(r.logpost[1:]))
    assert set(r.derived) >= {"omegam", "rdrag", "theta_star"}


def test_equals_cobaya_on_full_data_with_emulator(data_dir):
    info = build_info("lcdm", FULL, backend="emulator-box", data_dir=data_dir)
    x = _points(info, list(_widths(info)), 6, 2.0)
    post, r = _compare_with_cobaya(info, x, data_dir)
    assert "A_planck" in post.names  # a nuisance with a Gaussian prior
    assert np.sum(np.isfinite(r.logpost)) >= 3


def test_bad_input_is_clear():
    info = build_info("lcdm", ["desi-dr2-bao", "cmb-compressed"])
    post = BatchPosterior(info)
    with pytest.raises(InputError, match="shape"):
        post(np.zeros((3, 7)))
    with pytest.raises(InputError, match="not supported"):
        parse_prior("x", {"prior": {"dist": "lognorm"}})


def test_batched_best_fit_and_profile_match_nelder_mead():
    from numass.inference.bestfit import nelder_mead_fit, newton_fit, newton_profile
    from numass.inference.posterior import CobayaPosterior

    info = build_info("lcdm", ["desi-dr2-bao", "cmb-compressed"])
    post = BatchPosterior(info)
    widths = _widths(info)
    bf = newton_fit(post, _refs(info), widths)
    ref = nelder_mead_fit(CobayaPosterior.from_info(info), [_refs(info)], widths)
    assert bf["chi2"] == pytest.approx(ref["chi2"], abs=2e-3)
    assert bf["mnu_eff"] == pytest.approx(ref["mnu_eff"], abs=0.01)
    sd = np.sqrt(np.diag(bf["covariance"]))[post.names.index("mnu_eff")]
    assert 0.05 < sd < 0.15  # the Hessian's sigma; the MCMC's is 0.087
    # profile at the best fit's value: chi2 equal to the best fit's; one sigma away: ~1
    prof = newton_profile(post, "mnu_eff", [bf["mnu_eff"], bf["mnu_eff"] + sd], bf, widths)
    assert prof[0]["chi2"] == pytest.approx(bf["chi2"], abs=2e-3)
    assert prof[1]["chi2"] - bf["chi2"] == pytest.approx(1.0, abs=0.15)
    assert prof[1]["mnu_eff"] == pytest.approx(bf["mnu_eff"] + sd)


def test_profile_start_avoids_a_shift_out_of_the_box():
    """The Gaussian conditional shift of a profile start can leave the sampling box along a
    degeneracy (w0wa's IO floor went to w = -0.11 > -0.2): a smaller shift is used instead."""
    from numass.inference.bestfit import _profile_starts

    cov = np.array([[1.0, 0.9], [0.9, 1.0]])  # strongly correlated: shift 0.9 y0[:, 0]
    inv = np.linalg.inv(cov)

    class Toy:  # the Gaussian with this covariance, inf outside y[1] < 1
        def __call__(self, y):
            chi2 = np.einsum("ni,ij,nj->n", y, inv, y)
            return np.where(y[:, 1] < 1.0, 0.5 * chi2, np.inf)

        def clip(self, y):
            return y

    y0 = np.array([[2.0, 0.0], [0.5, 0.0]])
    free = np.array([False, True])
    starts = _profile_starts(Toy(), y0, 0, cov, np.ones(2), free)
    assert np.all(np.isfinite(Toy()(starts)))
    assert starts[0, 1] == pytest.approx(0.9)  # half the shift: the full 1.8 leaves the box
    assert starts[1, 1] == pytest.approx(0.45)  # the full shift, the conditional optimum


class _TwoWells:
    """-ln P of two Gaussian wells in 2-d (scaled coordinates), the one at +2 deeper by 3."""

    lo, hi = np.full(2, -10.0), np.full(2, 10.0)

    def __init__(self):
        self.n_calls = 0

    def __call__(self, y):
        self.n_calls += len(y)
        y = np.atleast_2d(y)
        a = 0.5 * np.sum((y - 2.0) ** 2, axis=1) / 0.25
        b = 0.5 * np.sum((y + 2.0) ** 2, axis=1) / 0.25 + 3.0
        return -np.logaddexp(-a, -b)

    def clip(self, y, margin=0.0):
        return np.clip(y, self.lo + margin, self.hi - margin)


def test_pruned_starts_end_where_the_unpruned_ones_do_for_fewer_calls():
    """Lockstep Newton from two starts in each well: pruned, the best start ends at the same
    optimum and value (the same arithmetic: its own refinement is untouched), the duplicate and
    the start in the worse well stop early."""
    from numass.inference.bestfit import newton_lockstep

    starts = np.array([[1.5, 2.4], [1.6, 2.3], [-1.7, -2.2], [-2.4, -1.6]])
    free = np.ones(2, dtype=bool)
    runs = {}
    for prune in (False, True):
        obj = _TwoWells()
        y, f, _, _ = newton_lockstep(obj, starts, free, prune=prune)
        runs[prune] = (y[np.argmin(f)], f.min(), obj.n_calls)
    assert runs[True][1] == runs[False][1] and np.array_equal(runs[True][0], runs[False][0])
    np.testing.assert_allclose(runs[True][0], [2.0, 2.0], atol=1e-4)
    assert runs[True][2] < 0.75 * runs[False][2]
