"""The layout is the architecture, and these guard rails keep it so: the import contracts in pyproject.toml
(import-linter), pages that stay thin and guard themselves, and modules and folders of a size a newcomer can read.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ["app", "services", "classifier", "localcloud", "app_pages", "bench"]
MAX_MODULE_LINES = 400
MAX_MODULES_IN_A_FOLDER = 15
# Pages everyone may open; every other page is an operator's and refuses anyone else itself.
PUBLIC_PAGES = {"overview.py", "predict.py"}


def _modules(folders: list[str]) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def _imported(path: Path) -> set[str]:
    """The top-level names of every module a file imports (at any depth of its code)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_import_contracts_hold() -> None:
    """app_pages → app → services → (boto3); localcloud and classifier import nothing of the dashboard;
    localcloud's service packages import only the core, auth and themselves; no cycles."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=240, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("page", sorted((ROOT / "app_pages").glob("*.py")), ids=lambda p: p.name)
def test_a_page_talks_to_app_and_services_only(page: Path) -> None:
    roots = {name.split(".")[0] for name in _imported(page)}
    assert not roots & {"boto3", "botocore", "localcloud", "app_pages"}, f"{page.name} imports {sorted(roots)}"


@pytest.mark.parametrize(
    "page", sorted(p for p in (ROOT / "app_pages").glob("*.py") if p.name not in PUBLIC_PAGES), ids=lambda p: p.name
)
def test_an_operator_page_starts_with_its_guard(page: Path) -> None:
    """The first statement after the imports refuses a viewer or a guest, before the page reads anything."""
    body = [
        node
        for node in ast.parse(page.read_text(encoding="utf-8")).body
        if not isinstance(node, ast.Import | ast.ImportFrom)
        and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))  # the docstring
    ]
    first = body[0]
    call = first.value if isinstance(first, ast.Expr | ast.Assign) else None
    assert isinstance(call, ast.Call) and getattr(call.func, "id", None) == "operators_only", (
        f"{page.name} does not start with operators_only(...)"
    )


def test_the_entry_point_imports_only_app() -> None:
    roots = {name.split(".")[0] for name in _imported(ROOT / "streamlit_app.py")}
    assert roots <= {"app", "streamlit"}, sorted(roots)


def test_no_product_module_is_over_the_size_a_reader_can_hold() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in [*_modules(PRODUCT), ROOT / "streamlit_app.py"]
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"over {MAX_MODULE_LINES} lines (two ideas?): {long}"


def test_no_folder_holds_more_modules_than_a_reader_can_scan() -> None:
    crowded = {}
    for folder in {p.parent for p in _modules([*PRODUCT, "tests"])}:
        count = sum(1 for _ in folder.glob("*.py"))  # __init__.py counts: it is a module a reader opens too
        if count > MAX_MODULES_IN_A_FOLDER:
            crowded[str(folder.relative_to(ROOT))] = count
    assert not crowded, f"more than {MAX_MODULES_IN_A_FOLDER} modules (wants sub-packages): {crowded}"


def test_no_two_modules_share_a_name_across_the_layers() -> None:
    """A reader opening services/x.py beside localcloud/…/x.py, or a page beside the app and service modules it
    uses, should never wonder which is which. Packages' conventional names (provider, __init__, …) are exempt; a
    page is compared with app/ and services/ only, since its name is its URL and it uses nothing else."""
    exempt = {"__init__.py", "__main__.py", "provider.py", "conftest.py"}
    seen: dict[str, set[str]] = {}
    for path in _modules(["app", "services", "classifier", "localcloud"]):
        if path.name not in exempt:
            seen.setdefault(path.name, set()).add(path.relative_to(ROOT).parts[0])
    shared = {name: sorted(layers) for name, layers in seen.items() if len(layers) > 1}
    shared |= {
        f"app_pages/{page.name}": sorted(seen[page.name] & {"app", "services"})
        for page in (ROOT / "app_pages").glob("*.py")
        if seen.get(page.name, set()) & {"app", "services"}
    }
    assert not shared, f"the same module name in several layers: {shared}"


def test_no_folder_is_named_pages():
    """Streamlit runs a root folder named `pages/` as its older multipage app until a session has drawn
    st.navigation: on a just-started server the first visitor's first click was lost. Pages live in app_pages/."""
    assert not (ROOT / "pages").exists()


def test_every_page_path_named_in_the_code_is_a_page():
    """st.page_link and st.switch_page take a page's path: a path to no page fails only when it is drawn."""
    named = set()
    for folder in ("app", "app_pages"):
        for module in (ROOT / folder).rglob("*.py"):
            named |= set(re.findall(r"[\"'](pages/[\w/]+\.py|app_pages/[\w/]+\.py)[\"']", module.read_text()))
    named |= set(re.findall(r"[\"'](app_pages/\w+\.py)[\"']", (ROOT / "streamlit_app.py").read_text()))
    assert named and not {path for path in named if not (ROOT / path).is_file()}
