"""Plugins add CLI commands through the ``register_commands`` hook (``train`` is one)."""

import subprocess
import sys

import typer
from typer.testing import CliRunner

from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.plugin_manager import add_plugin_commands, make_plugin_manager


def _hello() -> None:
    """Say hello."""
    typer.echo("hello from a plugin")


class AddsHello:
    @hookimpl
    def register_commands(self, app):
        app.command("hello")(_hello)


class ReusesTrain:
    @hookimpl
    def register_commands(self, app):
        app.command("extra")(_hello)
        app.command("train")(_hello)


class Broken:
    @hookimpl
    def register_commands(self, app):
        app.command("half-added")(_hello)
        raise RuntimeError("cannot add commands")


def _app_with(*plugins: object) -> tuple[typer.Typer, list[str]]:
    app = typer.Typer()
    app.command("plugins")(_hello)
    loaded = make_plugin_manager(load_entry_points=False)
    for plugin in plugins:
        loaded.pm.register(plugin, name=type(plugin).__name__)
    return app, add_plugin_commands(app, loaded)


def _names(app: typer.Typer) -> set[str]:
    return {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}


def test_train_comes_from_the_learned_metrics_plugin():
    app, problems = _app_with()
    assert problems == []
    assert _names(app) == {"plugins", "train"}
    loaded = make_plugin_manager(load_entry_points=False)
    loaded.pm.unregister(name="semfid_bench.plugins.learned_metrics")
    bare = typer.Typer()
    assert add_plugin_commands(bare, loaded) == [] and _names(bare) == set()


def test_a_plugin_command_runs_from_the_cli():
    app, problems = _app_with(AddsHello())
    assert problems == []
    result = CliRunner().invoke(app, ["hello"])
    assert result.exit_code == 0 and "hello from a plugin" in result.output


def test_taken_names_and_failing_hooks_are_problems_and_the_others_still_register():
    app, problems = _app_with(ReusesTrain(), Broken(), AddsHello())
    assert _names(app) == {"plugins", "train", "hello"}
    assert len(problems) == 2
    assert "ReusesTrain" in problems[0] and "train" in problems[0]
    assert "Broken" in problems[1] and "cannot add commands" in problems[1]


def test_cli_warns_about_plugin_command_problems_and_strict_mode_fails(monkeypatch):
    code = (
        "import sys\n"
        "import semfid_bench.cli as cli\n"
        "cli.PLUGIN_COMMAND_PROBLEMS[:] = ['demo plugin: register_commands failed: boom']\n"
        "sys.argv = ['semfid-bench', 'plugins', '--help']\n"
        "cli.main()\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0 and "Plugin problem:" in run.stderr and "boom" in run.stderr
    monkeypatch.setenv("SEMFID_BENCH_STRICT_PLUGINS", "1")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 2 and "boom" in run.stderr


def test_the_cli_gets_train_from_the_plugin_without_problems():
    """Core wiring of ``train`` as well would make the plugin's registration a clash."""
    from semfid_bench import cli

    assert cli.PLUGIN_COMMAND_PROBLEMS == []
    assert "train" in _names(cli.app)
