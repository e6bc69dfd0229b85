"""`semfid-bench prefetch`: every selected plugin's downloads, hash checks, then offline runs."""

import shutil
from pathlib import Path

import pytest
import torch.hub
from sr_models.checkpoints import make_rrdbnet_state, write_checkpoint
from typer.testing import CliRunner

from semfid_bench.cli import app
from semfid_bench.execution.prefetch import prefetch_all
from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.specs import MetricSpec

runner = CliRunner(env={"COLUMNS": "250"})


@pytest.fixture
def fake_network(tmp_path, monkeypatch, request):
    """Downloads served from local random-weight checkpoints; records the URLs asked for."""
    sources = request.getfixturevalue("release_files")
    asked = []

    def download(url, dst, progress=True):
        asked.append(url)
        shutil.copyfile(sources[url.rsplit("/", 1)[-1]], dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    monkeypatch.setenv("SEMFID_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SEMFID_BENCH_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return asked


@pytest.fixture
def release_files(tmp_path):
    return {
        "BSRGAN.pth": write_checkpoint(make_rrdbnet_state("kair"), tmp_path / "b.pth"),
        "RealESRGAN_x4plus.pth": write_checkpoint(
            make_rrdbnet_state("basicsr"), tmp_path / "r.pth", "params_ema"
        ),
    }


def test_prefetch_downloads_into_the_cache_then_runs_offline(tmp_path, fake_network, monkeypatch):
    result = runner.invoke(app, ["prefetch", "--models", "bsrgan,bicubic", "--metrics", "psnr"])
    assert result.exit_code == 0, result.output
    cached = tmp_path / "cache" / "weights" / "BSRGAN.pth"
    assert cached.is_file() and str(cached) in " ".join(result.output.split())
    assert fake_network == ["https://github.com/cszn/KAIR/releases/download/v1.0/BSRGAN.pth"]

    again = runner.invoke(app, ["prefetch", "--models", "bsrgan"])
    assert again.exit_code == 0 and len(fake_network) == 1  # cached: no second download

    monkeypatch.setenv("SEMFID_BENCH_OFFLINE", "1")
    from semfid_bench.sr_models.checkpoint_models import BSRGAN

    assert BSRGAN().weights_path() == cached


def test_a_file_with_the_wrong_hash_is_refused_and_not_cached(tmp_path, fake_network):
    # the random-weight stand-in cannot have the real Real-ESRGAN file's SHA-256
    result = runner.invoke(app, ["prefetch", "--models", "realesrgan"])
    assert result.exit_code == 1
    assert "SHA-256" in " ".join(result.output.split())
    assert not (tmp_path / "cache" / "weights" / "RealESRGAN_x4plus.pth").exists()


def test_offline_prefetch_reports_what_to_download(tmp_path, monkeypatch):
    monkeypatch.setenv("SEMFID_BENCH_CACHE", str(tmp_path))
    monkeypatch.setenv("SEMFID_BENCH_OFFLINE", "1")
    result = runner.invoke(
        app, ["prefetch", "--models", "swinir", "--set", "swinir.variant=classical"]
    )
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "001_classicalSR_DF2K_s64w8_SwinIR-M_x4.pth" in text


class _Recorder:
    """A metric plugin whose factory declares its weight files, and one that does not."""

    calls: list = []  # noqa: RUF012

    class Declared:
        @classmethod
        def weight_files(cls, **options):
            _Recorder.calls.append(("weight_files", options))
            return {"declared.bin": lambda: Path("/weights/declared.bin")}

    @staticmethod
    def undeclared(device, **options):
        _Recorder.calls.append(("instantiate", str(device), options))

    @hookimpl
    def register_metrics(self, register):
        spec = MetricSpec
        register.add(spec(name="declared", higher_is_better=True), _Recorder.Declared)
        register.add(spec(name="undeclared", higher_is_better=True), _Recorder.undeclared)


def test_prefetch_hook_gets_the_options_and_others_are_instantiated(make_registry):
    _Recorder.calls.clear()
    registry = make_registry(_Recorder())
    outcomes = prefetch_all(
        registry,
        {"metric": ["declared", "undeclared"]},
        {"declared": {"weights": "x"}, "undeclared": {"k": 1}},
    )
    assert [(o.name, o.how, o.error) for o in outcomes] == [
        ("declared", "weight_files", None),
        ("undeclared", "instantiate", None),
    ]
    assert outcomes[0].paths == [Path("/weights/declared.bin")]
    assert _Recorder.calls == [
        ("weight_files", {"weights": "x"}),
        ("instantiate", "cpu", {"k": 1}),
    ]


def test_unknown_plugin_is_an_error_outcome(make_registry):
    with pytest.raises(SemfidError):
        make_registry().get("sr_model", "nope")
    [outcome] = prefetch_all(make_registry(), {"sr_model": ["nope"]}, {})
    assert "Unknown sr model 'nope'" in outcome.error


@pytest.fixture
def no_model_loading(monkeypatch):
    """Diffusion models whose constructors fail: prefetch must not instantiate them."""
    from semfid_bench.sr_models.diffusion.pasd import PASD
    from semfid_bench.sr_models.diffusion.sd_x4_upscaler import SDx4Upscaler
    from semfid_bench.sr_models.diffusion.seesr import SeeSR
    from semfid_bench.sr_models.diffusion.stablesr import StableSR

    def refuse(self, *args, **kwargs):
        raise AssertionError("prefetch instantiated a model")

    for cls in (SeeSR, PASD, StableSR, SDx4Upscaler):
        monkeypatch.setattr(cls, "__init__", refuse)


def test_drive_only_files_are_listed_with_url_and_option(tmp_path, monkeypatch, no_model_loading):
    monkeypatch.setenv("SEMFID_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("SEMFID_BENCH_OFFLINE", "1")
    result = runner.invoke(app, ["prefetch", "--models", "seesr,pasd,stablesr,sd-x4-upscaler"])
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    drive = "https://drive.google.com/drive/folders/12HXrRGEXUAnmHRaf0bIn-S8XSK4Ku0JO"
    assert "download by hand seesr: SeeSR UNet and ControlNet: the SeeSR release folder" in text
    assert f"{drive}; pass it with --set seesr.weights=DIR" in text
    assert "download by hand seesr: DAPE.pth: DAPE.pth from the SeeSR authors' Google Drive" in text
    assert f"{drive}; pass it with --set seesr.dape=PATH" in text
    for missing in ("yangtao9009/PASD", "stablesr_000117.ckpt", "vqgan_cfw_00011.ckpt"):
        assert missing in text
    assert "stabilityai/stable-diffusion-x4-upscaler" in text


def test_stablesr_prefetch_downloads_both_checkpoints(tmp_path, monkeypatch, no_model_loading):
    monkeypatch.setenv("SEMFID_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SEMFID_BENCH_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # tests/metrics sets it globally
    asked = []

    def download(url, dst, progress=True):
        asked.append(url.rsplit("/", 1)[-1])
        Path(dst).write_bytes(b"checkpoint")

    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    result = runner.invoke(app, ["prefetch", "--models", "stablesr"])
    assert result.exit_code == 0, result.output
    assert asked == ["stablesr_000117.ckpt", "vqgan_cfw_00011.ckpt"]
    assert (tmp_path / "cache" / "weights" / "vqgan_cfw_00011.ckpt").is_file()
