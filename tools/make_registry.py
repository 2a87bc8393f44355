"""Regenerate src/numass/data/registry.json from a SHA256SUMS file of the public data sets.

    python tools/make_registry.py ../shared/data/SHA256SUMS

Each file gets its official download URL (pinned to a commit where the upstream repository's
commit is known, else the default branch) and a flag saying whether the path was confirmed to
exist upstream when this script was written.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

RAW = "https://raw.githubusercontent.com"
DATASETS = {
    "desi_bao_dr2": dict(
        description="DESI DR2 BAO: Gaussian D_V/r_d, D_M/r_d, D_H/r_d means and covariances, all "
                    "tracers combined (13 numbers) and per tracer",
        citation="DESI Collaboration 2025, arXiv:2503.14738",
        source="github.com/CobayaSampler/bao_data (desi_bao_dr2/)",
        base=f"{RAW}/CobayaSampler/bao_data/b7b8a36e9bccb063081f811f323cada21ab5fbdd/desi_bao_dr2",
        unconfirmed=("desi_gaussian_bao_ALL_GCcomb_cov.txt", "desi_gaussian_bao_ALL_GCcomb_mean.txt")),
    "desi_bao_dr1": dict(
        description="DESI DR1 (2024) BAO, same format",
        citation="DESI Collaboration 2024, arXiv:2404.03002",
        source="github.com/CobayaSampler/bao_data (desi_2024_*)",
        base=f"{RAW}/CobayaSampler/bao_data/75b9557d3432a002963358307120351d4e727b22",
        unconfirmed=("desi_2024_gaussian_bao_ALL_GCcomb_cov.txt",)),
    "planck2018_lite": dict(
        description="Planck 2018 plik_lite v22 high-ell TT/TE/EE band powers and covariance, and "
                    "the two Gaussian low-ell TT bins",
        citation="Planck 2018 V, arXiv:1907.12875; Prince & Dunkley 2019, arXiv:1909.05869",
        source="Planck Legacy Archive, as repackaged by github.com/heatherprince/planck-lite-py",
        base=f"{RAW}/heatherprince/planck-lite-py/master/data", unconfirmed="all"),
    "planck_pr4_lensing": dict(
        description="Planck PR4 (NPIPE) CMB lensing: MV and polarization-only band powers, "
                    "covariances, windows, linear-correction windows, CMB-marginalised variant",
        citation="Carron, Mirmelstein & Lewis 2022, arXiv:2206.07773",
        source="github.com/carronj/planck_PR4_lensing (planckpr4lensing/data_pr4/)",
        base=f"{RAW}/carronj/planck_PR4_lensing/master/planckpr4lensing/data_pr4",
        unconfirmed=("FFP10_wdipole_lensedCls.dat", "FFP10_wdipole_lenspotentialCls.dat")),
    "act_dr6_lensing_v0": dict(
        description="ACT DR6 CMB lensing baseline (10 band powers of C_L^kk, L=40-763), "
                    "lens+CMB and lens-only covariances, windows, response windows",
        citation="Madhavacheril et al. 2024, arXiv:2304.05203; Qu et al. 2024, arXiv:2304.05202",
        source="github.com/Lbalkenhol/candl_data (ACT_DR6_Lens_v0)",
        base=f"{RAW}/Lbalkenhol/candl_data/main/candl_data/ACT_DR6_Lens_v0", unconfirmed="all"),
    "act_dr6_lensing_v1": dict(
        description="ACT DR6 lensing, likelihood v1.2 (PARTIAL here: dAL_dC_TT/TE/EE.fits absent, "
                    "so its NormCorr step cannot run)",
        citation="Madhavacheril et al. 2024, arXiv:2304.05203; Qu et al. 2024, arXiv:2304.05202",
        source="github.com/Lbalkenhol/candl_data (ACT_DR6_Lens_v1)",
        base=f"{RAW}/Lbalkenhol/candl_data/main/candl_data/ACT_DR6_Lens_v1", unconfirmed="all"),
    "spt3g_2018_lensing": dict(
        description="SPT-3G 2018 CMB lensing (12 band powers of C_L^pp), covariance, windows, "
                    "response windows, foreground template",
        citation="Pan et al. 2023, arXiv:2308.11608",
        source="github.com/Lbalkenhol/candl_data (SPT3G_2018_Lens_v0)",
        base=f"{RAW}/Lbalkenhol/candl_data/main/candl_data/SPT3G_2018_Lens_v0", unconfirmed="all"),
}


def main(sums_path: str) -> None:
    files: dict[str, list] = {k: [] for k in DATASETS}
    for line in Path(sums_path).read_text().splitlines():
        sha, path = line.split(maxsplit=1)
        parts = Path(path).parts
        parts = parts[1:] if parts[0] == "." else parts
        if len(parts) < 2 or parts[0] not in DATASETS:
            continue
        folder, rel = parts[0], "/".join(parts[1:])
        meta = DATASETS[folder]
        unconfirmed = meta["unconfirmed"] == "all" or rel in meta["unconfirmed"]
        files[folder].append({"path": rel, "sha256": sha, "url": f"{meta['base']}/{rel}",
                              "url_confirmed": not unconfirmed})
    out = {k: {kk: v for kk, v in meta.items() if kk not in ("base", "unconfirmed")}
           | {"files": sorted(files[k], key=lambda f: f["path"])} for k, meta in DATASETS.items()}
    target = Path(__file__).resolve().parents[1] / "src" / "numass" / "data" / "registry.json"
    target.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {target}: {sum(len(f) for f in files.values())} files")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/SHA256SUMS")
