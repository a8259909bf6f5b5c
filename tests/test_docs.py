"""Docs that tests keep true: README commands, the config example, the architecture."""

import ast
import dataclasses
import tomllib
from pathlib import Path

import pytest

from syndicator import config

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
RUN_COMMAND = "python -m pip install -e . && syndicator serve"
TEST_COMMAND = "python -m pip install -e '.[test]' && python -m pytest"


def test_readme_opens_with_the_run_and_test_commands():
    assert README.index(RUN_COMMAND) < README.index(TEST_COMMAND) < README.index("## What you get")


def test_ci_runs_the_readmes_test_command():
    assert TEST_COMMAND in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_the_console_script_the_readme_uses_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"]["syndicator"] == "syndicator.cli:main"
    assert "test" in project["optional-dependencies"]


def command_names(group, prefix: str = "") -> list[str]:
    names = []
    for name, command in sorted(group.commands.items()):
        full = f"{prefix}{name}"
        names += command_names(command, f"{full} ") if hasattr(command, "commands") else [full]
    return names


def test_readme_documents_every_command():
    from syndicator.cli import cli

    missing = [name for name in command_names(cli) if f"`{name}" not in README]
    assert missing == []


def documented_keys(table: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in table.items():
        name = f"{prefix}{key}"
        keys |= documented_keys(value, f"{name}.") if isinstance(value, dict) else {name}
    return keys


def config_keys(cls, prefix: str = "") -> set[str]:
    keys = set()
    for field in dataclasses.fields(cls):
        if field.name in ("source", "base_dir"):
            continue
        name = "from" if (prefix, field.name) == ("email.", "sender") else field.name
        kind = field.default_factory if field.default_factory is not dataclasses.MISSING else None
        if kind is not None and dataclasses.is_dataclass(kind):
            keys |= config_keys(kind, f"{prefix}{name}.")
        else:
            keys.add(f"{prefix}{name}")
    return keys


def test_config_example_documents_every_key_and_loads_as_the_defaults():
    path = ROOT / "config.example.toml"
    example = tomllib.loads(path.read_text(encoding="utf-8"))
    assert documented_keys(example) == config_keys(config.Config)
    loaded = config.load(str(path), env={})
    defaults = config.from_mapping({}, env={})
    for field in dataclasses.fields(config.Config):
        if field.name not in ("source", "base_dir"):
            assert getattr(loaded, field.name) == getattr(defaults, field.name), field.name


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    ("library", "allowed"),
    [
        ("flask", "syndicator/web/"),
        ("apscheduler", "syndicator/worker.py"),
        ("click", "syndicator/cli/"),
    ],
)
def test_each_client_library_is_imported_only_by_its_client(library: str, allowed: str):
    offenders = [
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "syndicator").rglob("*.py")
        if library in imports_of(path) and not path.relative_to(ROOT).as_posix().startswith(allowed)
    ]
    assert offenders == []
