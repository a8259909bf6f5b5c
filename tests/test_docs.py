"""Docs that tests keep true: README commands, the config example, the architecture."""

import ast
import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from syndicator import config
from syndicator.metrics import Metrics

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "syndicator"
README = (ROOT / "README.md").read_text(encoding="utf-8")
# The reference pages the README points to, one per subsystem.
USER_PAGES = ("admin-api.md", "webhooks.md", "email-digests.md", "operations.md")
USER_DOCS = README + "".join(
    (ROOT / "docs" / page).read_text(encoding="utf-8") for page in USER_PAGES
)
DESIGN = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
RUN_COMMAND = "python -m pip install -e . && syndicator serve"
TEST_COMMAND = "python -m pip install -e '.[test]' && python -m pytest"


def test_readme_opens_with_the_run_and_test_commands():
    assert README.index(RUN_COMMAND) < README.index(TEST_COMMAND) < README.index("## What you get")


def test_ci_runs_the_readmes_test_command_after_the_static_gates():
    install, run_tests = TEST_COMMAND.split(" && ")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    steps = [install, "gate ruff check .", "gate ruff format --check .", "gate mypy", run_tests]
    assert all(step in ci for step in steps)
    assert [ci.index(step) for step in steps] == sorted(ci.index(step) for step in steps)


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


def test_readme_and_its_pages_document_every_command():
    from syndicator.cli import cli

    missing = [name for name in command_names(cli) if f"`{name}" not in USER_DOCS]
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
        if field.name in ("source", "base_dir", "derived"):  # where it came from, not keys
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


def without_code_blocks(markdown: str) -> str:
    return re.sub(r"^```.*?^```", "", markdown, flags=re.DOTALL | re.MULTILINE)


def without_code(markdown: str) -> str:
    """Without code blocks or inline code: an example link in `code` is not a link."""
    return re.sub(r"`[^`\n]+`", "", without_code_blocks(markdown))


def heading_anchor(heading: str) -> str:
    """The fragment GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors_of(path: Path) -> set[str]:
    text = without_code_blocks(path.read_text(encoding="utf-8"))
    return {heading_anchor(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)}


MARKDOWN_FILES = [ROOT / "README.md", ROOT / "bench" / "README.md", *(ROOT / "docs").glob("*.md")]


def test_readme_links_each_reference_page():
    assert [page for page in USER_PAGES if f"](docs/{page})" not in README] == []


@pytest.mark.parametrize("path", MARKDOWN_FILES, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_relative_link_in_the_docs_resolves(path: Path):
    text = without_code(path.read_text(encoding="utf-8"))
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # an outside address
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        if not linked.exists() or (anchor and anchor not in anchors_of(linked)):
            broken.append(target)
    assert broken == []


def named_module(token: str) -> tuple[Path, str | None]:
    """`web/feeds.py::name` (relative to syndicator/, or to the repository) → file, name."""
    path, _, name = token.partition("::")
    repo_path = ROOT / path
    return (repo_path if repo_path.exists() else PACKAGE / path), name or None


def named_folder(token: str) -> Path:
    """`mail/templates/` is relative to syndicator/, unless it starts with `syndicator/`."""
    return ROOT / token if token.startswith("syndicator/") else PACKAGE / token


def defines(module: Path, name: str) -> bool:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return any(isinstance(node, kinds) and node.name == name for node in tree.body)


def missing_modules(markdown: str) -> list[str]:
    tokens = re.findall(r"`([\w/.]+\.py(?:::\w+)?)`", without_code_blocks(markdown))
    missing = []
    for token in tokens:
        module, name = named_module(token)
        if not module.is_file() or (name and not defines(module, name)):
            missing.append(token)
    return missing


@pytest.mark.parametrize("path", MARKDOWN_FILES, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_module_the_docs_name_exists(path: Path):
    text = path.read_text(encoding="utf-8")
    assert missing_modules(text) == []
    folders = re.findall(r"`(syndicator/[\w/]+/)`", without_code_blocks(text))
    assert [folder for folder in folders if not (ROOT / folder).is_dir()] == []


def code_map() -> str:
    match = re.search(r"^## Code map\n(.*?)^## ", DESIGN, flags=re.DOTALL | re.MULTILINE)
    assert match, "docs/design.md has no '## Code map' section"
    return match.group(1)


def first_cells(section: str, heading: str) -> set[str]:
    """The backticked names in the first column of the table under `heading`."""
    table = section.split(f"### {heading}\n", 1)[1].split("\n### ", 1)[0]
    return set(re.findall(r"^\| `([^`]+)` \|", table, flags=re.MULTILINE))


def test_design_opens_with_the_code_map():
    assert re.findall(r"^## (.+)$", DESIGN, flags=re.MULTILINE)[0] == "Code map"


def test_code_map_names_only_modules_functions_and_folders_that_exist():
    section = code_map()
    assert missing_modules(section) == []
    folders = re.findall(r"`([\w/]+/)`", section)
    assert [folder for folder in folders if not named_folder(folder).is_dir()] == []


def test_code_map_describes_every_package_and_kernel_module():
    section = code_map()
    packages = {
        init.parent.relative_to(PACKAGE).as_posix() + "/"
        for init in PACKAGE.rglob("__init__.py")
        if init.parent != PACKAGE
    }
    kernel = {
        module.name
        for module in PACKAGE.glob("*.py")
        if module.name not in ("__init__.py", "__main__.py")
    }
    assert packages - first_cells(section, "Packages") == set()
    assert kernel - first_cells(section, "The kernel: flat modules everything else uses") == set()


def test_operations_page_lists_exactly_the_metrics_served():
    page = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(syndicator_\w+)`", page, flags=re.MULTILINE))
    served = {
        family.name + ("_total" if family.type == "counter" else "")
        for family in Metrics().registry.collect()
    }
    assert documented == served
