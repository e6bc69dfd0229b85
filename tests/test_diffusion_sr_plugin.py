"""The diffusion SR plugin registers its models without importing model code."""

from __future__ import annotations

import subprocess
import sys


def test_models_are_listed(make_registry):
    registry = make_registry()
    names = registry.names("sr_model")
    assert {"sd-x4-upscaler", "seesr", "pasd", "stablesr"} <= set(names)
    assert registry.get("sr_model", "seesr").spec.scales == (4,)


def test_registering_imports_no_diffusers_or_torch():
    code = (
        "import sys\n"
        "from semfid_bench.plugin_api.plugin_manager import build_registry, make_plugin_manager\n"
        "build_registry(make_plugin_manager(load_entry_points=False))\n"
        "print(sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
