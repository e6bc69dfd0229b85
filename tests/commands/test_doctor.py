"""`semfid-bench doctor`: offline, it lists what a run lacks and fails; with local weights
passed by --set it finds them; pinned hashes are checked; nothing is downloaded."""

from __future__ import annotations

import pytest
import torch
from release_files import save_like_lightning
from sr_models.checkpoints import make_rrdbnet_state, write_checkpoint
from typer.testing import CliRunner

from semfid_bench.cli import app

runner = CliRunner(env={"COLUMNS": "400"})


@pytest.fixture(autouse=True)
def empty_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("SEMFID_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("SEMFID_BENCH_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # doctor must go offline by itself

    def no_network(*args, **kwargs):
        raise AssertionError("doctor must not download")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)


def _doctor(*args: str):
    result = runner.invoke(app, ["doctor", *args])
    return result.exit_code, " ".join(result.output.replace("│", " ").split())


def test_lists_what_is_missing_and_exits_non_zero():
    code, text = _doctor("--models", "bsrgan,stablesr,seesr", "--metrics", "psnr")
    assert code == 1
    for name in ("BSRGAN.pth", "stablesr_000117.ckpt", "vqgan_cfw_00011.ckpt"):
        assert f"{name} missing" in text
    assert "seesr: dape by hand" in text and "--set seesr.dape=PATH" in text
    assert "https://drive.google.com/drive/folders/12HXrRGEXUAnmHRaf0bIn-S8XSK4Ku0JO" in text
    assert "stabilityai/stable-diffusion-2-base" in text
    assert "S-Lab License 1.0: non-commercial" in text and "estimate ~" in text
    assert "torch" in text and "CUDA" in text


def test_reports_local_weights_as_found_and_exits_zero(tmp_path):
    bsrgan = write_checkpoint(make_rrdbnet_state("kair"), tmp_path / "BSRGAN.pth")
    tiny = {"model.diffusion_model.w": torch.ones(2)}
    stablesr = save_like_lightning(tiny, tmp_path / "stablesr_000117.ckpt")
    vqgan = save_like_lightning(tiny, tmp_path / "vqgan_cfw_00011.ckpt")
    code, text = _doctor(
        "--models", "bsrgan,stablesr", "--metrics", "psnr",
        "--set", f"bsrgan.weights={bsrgan}",
        "--set", f"stablesr.weights={stablesr}",
        "--set", f"stablesr.vqgan={vqgan}",
    )  # fmt: skip
    assert code == 0, text
    assert f"BSRGAN.pth found {bsrgan}" in text
    assert f"stablesr_000117.ckpt found {stablesr}" in text
    assert f"vqgan_cfw_00011.ckpt found {vqgan}" in text


def test_a_file_of_another_size_than_the_release_is_reported(tmp_path):
    weights = write_checkpoint(make_rrdbnet_state("basicsr"), tmp_path / "r.pth", "params_ema")
    code, text = _doctor("--models", "realesrgan", "--set", f"realesrgan.weights={weights}")
    assert code == 1
    assert "wrong file" in text and "the release RealESRGAN_x4plus.pth is 67,040,989 bytes" in text
    assert "it is truncated" in text


def test_cuda_versions_and_every_gpu_with_its_memory_are_listed(monkeypatch):
    from types import SimpleNamespace

    from semfid_bench.execution.doctor import GIB, system_checks

    gpus = [
        SimpleNamespace(name="GPU-A", total_memory=80 * GIB),
        SimpleNamespace(name="GPU-B", total_memory=24 * GIB),
    ]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: len(gpus))
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: gpus[index])
    monkeypatch.setattr(torch.backends.cudnn, "version", lambda: 90100)
    monkeypatch.setattr(torch.version, "cuda", "12.8")
    rows = {(c.item, c.status, c.detail) for c in system_checks()}
    assert {("CUDA", "12.8", ""), ("cuDNN", "90100", "")} <= rows
    assert {("GPU 0", "GPU-A", "80.0 GiB"), ("GPU 1", "GPU-B", "24.0 GiB")} <= rows


def test_memory_rows_are_the_plugins_own_estimates():
    from semfid_bench.execution.doctor import memory_checks
    from semfid_bench.plugin_api.plugin_manager import build_registry

    registry = build_registry()
    selection = {"sr_model": ["seesr", "bicubic"], "metric": ["c2c"]}
    rows = {check.item: check.status for check in memory_checks(registry, selection)}
    for kind, names in selection.items():
        for name in names:
            estimate = registry.get(kind, name).spec.gpu_memory_gib
            assert rows[name] == (
                "no estimate" if estimate is None else f"estimate ~{estimate:g} GiB"
            )
    assert registry.get("sr_model", "seesr").spec.gpu_memory_gib is not None
