"""The repository's files agree with each other."""

import re
import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_mirrors_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted |= set(extra)
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {p for p in pip if not p.startswith("-e")}
    assert {_name(p): p for p in listed} == {_name(p): p for p in wanted}


def test_jupyter_book_is_pinned_below_2():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "jupyter-book>=1.0.4,<2" in project["optional-dependencies"]["book"]


def _chapters():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]
    return [f for f in files if re.match(r"book/\d\d_", f)]


def test_toc_files_exist_and_chapters_have_colab_pairs():
    chapters = _chapters()
    assert "book/04_dcgan" in chapters
    for chapter in chapters:
        assert (ROOT / f"{chapter}.md").exists(), chapter
        assert (ROOT / f"{chapter}.ipynb").exists(), f"{chapter} has no paired notebook for Colab"


def test_colab_pairs_are_in_sync():
    import jupytext

    for chapter in _chapters():
        md = jupytext.read(ROOT / f"{chapter}.md")
        nb = jupytext.read(ROOT / f"{chapter}.ipynb")
        cells = lambda book: [(c.cell_type, c.source.strip()) for c in book.cells]  # noqa: E731
        assert cells(md) == cells(nb), f"{chapter}.ipynb drifted from the .md: run `make sync`"
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit pairs without outputs"


def test_chapters_start_with_a_colab_install_cell():
    for chapter in _chapters():
        import jupytext

        first_code = next(c for c in jupytext.read(ROOT / f"{chapter}.md").cells if c.cell_type == "code")
        assert "google.colab" in first_code.source and "pip" in first_code.source
