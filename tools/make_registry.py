"""Regenerate src/numass/data/registry.json from a SHA256SUMS file of the public data sets.

    python tools/make_registry.py ../shared/data/SHA256SUMS

Each file gets its official download URL, pinned to a release tag or commit, and a flag saying
whether its upstream path was confirmed (named by upstream code or description files, or seen
in a listing of the repository) when this script was written. pooch checks the sha256 anyway.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

RAW = "https://raw.githubusercontent.com"
# Pins. bao_data v2.6 is the release cobaya 3.6.2 installs (its desi yaml files name every
# DESI file below). The other commits are ones at which the search index saw these paths.
BAO = f"{RAW}/CobayaSampler/bao_data/v2.6"
LITE = f"{RAW}/heatherprince/planck-lite-py/2c0d0f67e59ce781654cf62dd7fb10757b0e60be/data"
PR4 = f"{RAW}/carronj/planck_PR4_lensing/{{commit}}/planckpr4lensing/data_pr4"
PR4_MV, PR4_PONLY, PR4_ISW = ("34e9e644ae801680b3b54b272ff8ce60aece70ac",
                              "afd764ef4e8711522d3ab80a0692706420cfaa54",
                              "455a76023f1e17054329b9b7ec86b6ab8cb51361")
CANDL = f"{RAW}/Lbalkenhol/candl_data/f2b7514f5c0a1812ce1423ecfbd298bee60cc3bd/candl_data"
# planck_lite_py.py reads exactly these files (its readme.txt files and plmin are not read).
LITE_READ = {"planck2018_plik_lite/" + f for f in ("cl_cmb_plik_v22.dat", "c_matrix_plik_v22.dat",
                                                   "blmin.dat", "blmax.dat", "bweight.dat")} | {
    "planck2018_low_ell/" + f for f in ("CTT_bin_low_ell_2018.dat", "blmin_low_ell.dat",
                                        "blmax_low_ell.dat", "bweight_low_ell.dat")}
CANDL_INDEX = {"SPT3G_2018_PP_index.yaml", "SPT3G_2018_PP_lens_only.yaml",
               "SPT3G_2018_PP_lens_and_CMB.yaml", "ACT_DR6_KK_index.yaml",
               "ACT_DR6_KK_lens_only.yaml", "ACT_DR6_KK_lens_and_CMB.yaml"}


def _pr4_url(rel: str) -> tuple[str, bool]:
    commit = (PR4_ISW if rel.startswith("FFP10") else
              PR4_PONLY if rel.startswith(("PP_", "planck_calib")) else PR4_MV)
    return f"{PR4.format(commit=commit)}/{rel}", True


def _candl(folder: str, v1_index: bool):
    """URL rule for a candl_data folder: confirmed when candl_data.py or one of the data set's
    own yaml files (copied unchanged from upstream) names the file, or, for window files, the
    yaml names their folder and the name follows candl's io.py convention (window_{i}.txt,
    {spec}_window_functions.txt)."""
    def rule(rel: str, named: set[str]) -> tuple[str, bool]:
        index_ok = rel in CANDL_INDEX and (v1_index or not rel.endswith("_index.yaml"))
        sub, _, name = rel.rpartition("/")
        window_ok = f"{sub}/" in named and bool(
            re.fullmatch(r"window_\d+\.txt|[a-z]{2}_window_functions\.txt", name))
        return f"{CANDL}/{folder}/{rel}", index_ok or rel in named or window_ok
    return rule


DATASETS = {
    "desi_bao_dr2": dict(
        description="DESI DR2 BAO: Gaussian D_V/r_d, D_M/r_d, D_H/r_d means and covariances, all "
                    "tracers combined (13 numbers) and per tracer",
        citation="DESI Collaboration 2025, arXiv:2503.14738",
        source="github.com/CobayaSampler/bao_data (desi_bao_dr2/), release v2.6",
        rule=lambda rel, named: (f"{BAO}/desi_bao_dr2/{rel}", True)),
    "desi_bao_dr1": dict(
        description="DESI DR1 (2024) BAO, same format",
        citation="DESI Collaboration 2024, arXiv:2404.03002",
        source="github.com/CobayaSampler/bao_data (desi_2024_*), release v2.6",
        rule=lambda rel, named: (f"{BAO}/{rel}", True)),
    "planck2018_lite": dict(
        description="Planck 2018 plik_lite v22 high-ell TT/TE/EE band powers and covariance, and "
                    "the two Gaussian low-ell TT bins",
        citation="Planck 2018 V, arXiv:1907.12875; Prince & Dunkley 2019, arXiv:1909.05869",
        source="Planck Legacy Archive, as repackaged by github.com/heatherprince/planck-lite-py",
        rule=lambda rel, named: (f"{LITE}/{rel}", rel in LITE_READ)),
    "planck_pr4_lensing": dict(
        description="Planck PR4 (NPIPE) CMB lensing: MV and polarization-only band powers, "
                    "covariances, windows, linear-correction windows, CMB-marginalised variant",
        citation="Carron, Mirmelstein & Lewis 2022, arXiv:2206.07773",
        source="github.com/carronj/planck_PR4_lensing (planckpr4lensing/data_pr4/)",
        rule=lambda rel, named: _pr4_url(rel)),
    "act_dr6_lensing_v0": dict(
        description="ACT DR6 CMB lensing baseline (10 band powers of C_L^kk, L=40-763), "
                    "lens+CMB and lens-only covariances, windows, response windows",
        citation="Madhavacheril et al. 2024, arXiv:2304.05203; Qu et al. 2024, arXiv:2304.05202",
        source="github.com/Lbalkenhol/candl_data (ACT_DR6_Lens_v0)",
        rule=_candl("ACT_DR6_Lens_v0", v1_index=False)),
    "act_dr6_lensing_v1": dict(
        description="ACT DR6 lensing, likelihood v1.2 (PARTIAL here: dAL_dC_TT/TE/EE.fits absent, "
                    "so its NormCorr step cannot run)",
        partial="upstream dAL_dC_TT/TE/EE.fits (NormCorr templates) not in the registry",
        citation="Madhavacheril et al. 2024, arXiv:2304.05203; Qu et al. 2024, arXiv:2304.05202",
        source="github.com/Lbalkenhol/candl_data (ACT_DR6_Lens_v1)",
        rule=_candl("ACT_DR6_Lens_v1", v1_index=True)),
    "spt3g_2018_lensing": dict(
        description="SPT-3G 2018 CMB lensing (12 band powers of C_L^pp), covariance, windows, "
                    "response windows, foreground template",
        citation="Pan et al. 2023, arXiv:2308.11608",
        source="github.com/Lbalkenhol/candl_data (SPT3G_2018_Lens_v0)",
        rule=_candl("SPT3G_2018_Lens_v0", v1_index=True)),
}


def yaml_named_files(folder: Path) -> set[str]:
    """File and folder names quoted in a data set's yaml files (candl's description of it)."""
    names = set()
    for y in folder.glob("*.yaml"):
        names |= set(re.findall(r'"([^"/]+\.(?:txt|fits|yaml)|[^"/]+/)"', y.read_text()))
    return names


def main(sums_path: str) -> None:
    files: dict[str, list] = {k: [] for k in DATASETS}
    root = Path(sums_path).resolve().parent

    def named(folder: str) -> set[str]:
        return yaml_named_files(root / folder)

    for line in Path(sums_path).read_text().splitlines():
        sha, path = line.split(maxsplit=1)
        parts = Path(path).parts
        parts = parts[1:] if parts[0] == "." else parts
        if len(parts) < 2 or parts[0] not in DATASETS:
            continue
        folder, rel = parts[0], "/".join(parts[1:])
        url, confirmed = DATASETS[folder]["rule"](rel, named(folder))
        size = (root / folder / rel).stat().st_size
        files[folder].append({"path": rel, "sha256": sha, "size": size, "url": url,
                              "url_confirmed": confirmed})
    out = {k: {kk: v for kk, v in meta.items() if kk != "rule"}
           | {"files": sorted(files[k], key=lambda f: f["path"])} for k, meta in DATASETS.items()}
    target = Path(__file__).resolve().parents[1] / "src" / "numass" / "data" / "registry.json"
    target.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {target}: {sum(len(f) for f in files.values())} files")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/SHA256SUMS")
