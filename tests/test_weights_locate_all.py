"""locate_all: every missing weight in one error."""

from __future__ import annotations

import pytest

from semfid_bench.plugin_api.errors import WeightsUnavailableError
from semfid_bench.plugin_api.weights import local_weights, locate_all


def test_found_paths_are_returned(tmp_path):
    (tmp_path / "a").mkdir()
    found = locate_all(
        {"a": lambda: local_weights(tmp_path / "a", what="A", source="s", option="o")}
    )
    assert found == {"a": tmp_path / "a"}


def test_one_missing_keeps_its_own_error(tmp_path):
    with pytest.raises(WeightsUnavailableError) as error:
        locate_all({"a": lambda: local_weights(None, what="A", source="src-a", option="--set a")})
    assert "Weights A are not available" in error.value.message
    assert "--set a" in error.value.hint


def test_several_missing_are_listed_together(tmp_path):
    lookups = {
        name: (
            lambda name=name: local_weights(
                None, what=name, source=f"src-{name}", option=f"--set {name}"
            )
        )
        for name in ("A", "B")
    }
    with pytest.raises(WeightsUnavailableError) as error:
        locate_all(lookups)
    message = error.value.message
    assert message.startswith("2 weights are not available")
    assert all(f"src-{n}" in message and f"--set {n}" in message for n in ("A", "B"))


def test_local_folder_must_hold_the_expected_files(tmp_path):
    (tmp_path / "unet").mkdir()
    (tmp_path / "unet" / "config.json").write_text("{}")
    with pytest.raises(WeightsUnavailableError, match=r"lacks controlnet/config\.json"):
        local_weights(
            tmp_path,
            what="X",
            source="s",
            option="o",
            expect=("unet/config.json", "controlnet/config.json"),
        )
