"""SAELens round trip with the real sae-lens: our folders load in ``sae_lens.SAE.load_from_disk`` with the same
latents, and folders sae-lens writes load here with the same latents.

sae-lens is not a workbench dependency (it brings about fifty packages: transformer-lens, wandb, datasets, pyarrow).
This test installs it into a throwaway virtual environment layered on this one (so torch stays this torch) and runs
the sae-lens side there; it is skipped when the package index cannot be reached or the install takes over two
minutes (measured here: about 20 seconds).
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.analyses.sae import SparseAutoencoder, load_sae, save_sae

SIDE = r'''
import json, sys, torch
from pathlib import Path
from safetensors.torch import save_file, load_file
from sae_lens import SAE, StandardSAE, StandardSAEConfig, TopKSAE, TopKSAEConfig, JumpReLUSAE, JumpReLUSAEConfig
root = Path(sys.argv[1])
x = load_file(root / "x.safetensors")["x"]
out = {}
for folder in sorted((root / "ours").iterdir()):
    sae = SAE.load_from_disk(str(folder), device="cpu")
    out[folder.name + ".f"] = sae.encode(x).detach().contiguous()
    out[folder.name + ".xhat"] = sae.decode(sae.encode(x)).detach().contiguous()
    out[folder.name + ".cls"] = torch.tensor([len(type(sae).__name__)])
save_file(out, root / "theirs_on_ours.safetensors")
made = {}
torch.manual_seed(0)
for name, sae in (("standard", StandardSAE(StandardSAEConfig(d_in=6, d_sae=10))),
                  ("topk", TopKSAE(TopKSAEConfig(d_in=6, d_sae=10, k=3))),
                  ("jumprelu", JumpReLUSAE(JumpReLUSAEConfig(d_in=6, d_sae=10)))):
    with torch.no_grad():
        for p in sae.parameters():
            p.normal_()
        if hasattr(sae, "threshold"):
            sae.threshold.uniform_(0, 0.5)
    sae.save_model(str(root / "theirs" / name))
    made[name + ".f"] = sae.encode(x).detach().contiguous()
    made[name + ".xhat"] = sae.decode(sae.encode(x)).detach().contiguous()
save_file(made, root / "theirs_made.safetensors")
print(json.dumps({k: type(v).__name__ for k, v in made.items()}))
'''


@pytest.fixture(scope="module")
def side_python(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("saelens-venv")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import site; print(site.getsitepackages()[0])"], check=True,
                          capture_output=True, text=True).stdout.strip()
    Path(site, "workbench_parent.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    t0 = time.perf_counter()
    try:
        res = subprocess.run([str(py), "-m", "pip", "install", "--quiet", "sae-lens"], capture_output=True, text=True,
                             timeout=120)
    except subprocess.TimeoutExpired:
        pytest.skip("installing sae-lens took over two minutes")
    if res.returncode:
        pytest.skip(f"sae-lens could not be installed here: {res.stderr.strip().splitlines()[-1:]}")
    check = subprocess.run([str(py), "-c", "import torch, sae_lens; print(torch.__version__)"], capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stderr[-2000:]
    assert check.stdout.strip() == torch.__version__, "the side environment must use this environment's torch"
    print(f"sae-lens installed in {time.perf_counter() - t0:.1f} s")
    return py


def test_round_trip_with_real_saelens(side_python, tmp_path):
    from safetensors.torch import load_file, save_file

    x = torch.randn(12, 6)
    save_file({"x": x}, tmp_path / "x.safetensors")
    ours = {}
    for arch in ("relu_l1", "topk", "batchtopk"):
        sae = SparseAutoencoder(6, 10, arch, k=3, l1=0.01, seed=2)
        with torch.no_grad():
            sae.b_enc.normal_(0, 0.3)
            sae.b_dec.normal_(0, 0.3)
            sae.threshold.fill_(0.15)
            sae.W_dec.mul_(1.7)  # not unit-norm, as after folding the training scale
        save_sae(sae, tmp_path / "ours" / arch, {"hook_name": "blocks.1.hook_resid_post", "model_name": "zoo:dyck2"})
        ours[arch] = sae
    (tmp_path / "theirs").mkdir()
    res = subprocess.run([str(side_python), "-c", SIDE, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    theirs = load_file(tmp_path / "theirs_on_ours.safetensors")
    for arch, sae in ours.items():
        torch.testing.assert_close(theirs[f"{arch}.f"], sae.encode(x), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(theirs[f"{arch}.xhat"], sae(x), atol=1e-5, rtol=1e-5)
    made = load_file(tmp_path / "theirs_made.safetensors")
    for name in ("standard", "topk", "jumprelu"):
        back = load_sae(tmp_path / "theirs" / name, d_in=6)
        assert json.loads((tmp_path / "theirs" / name / "cfg.json").read_text())["architecture"] == name
        torch.testing.assert_close(back.encode(x), made[f"{name}.f"], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(back(x), made[f"{name}.xhat"], atol=1e-5, rtol=1e-5)
    assert np.isfinite(made["topk.f"].numpy()).all()
