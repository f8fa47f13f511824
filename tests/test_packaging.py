"""The repository's files agree with each other."""

import re
import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
from pathlib import Path

import yaml

import colab  # tools/colab.py (tests/conftest.py puts tools/ on the path)

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_mirrors_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(project["dependencies"])
    for name, extra in project["optional-dependencies"].items():
        if name != "faces":  # optional dlib face embedder: not part of the reader's environment
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


def test_colab_notebooks_are_generated_from_the_chapters_and_read_as_markdown():
    import nbformat

    for chapter in _chapters():
        nb = nbformat.read(ROOT / f"{chapter}.ipynb", as_version=4)
        want = colab.colab_notebook(ROOT / f"{chapter}.md")
        cells = lambda book: [(c.cell_type, c.source.strip()) for c in book.cells]  # noqa: E731
        assert cells(nb) == cells(want), f"{chapter}.ipynb drifted from the .md: run `make sync`"
        assert (ROOT / f"{chapter}.ipynb").read_text().rstrip() == nbformat.writes(want).rstrip(), \
            f"{chapter}.ipynb is not what tools/colab.py writes (cell ids, metadata): run `make sync`"
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit notebooks without outputs"
        assert colab.raw_myst(nb) == [], f"{chapter}.ipynb shows MyST as text"
        md = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        assert md.count("<details>") == (ROOT / f"{chapter}.md").read_text().count("{admonition}") > 0


def test_colab_conversion_of_citations_and_solutions():
    labels = {"a2014": "Able et al., 2014", "b2020": "Baker and Cole, 2020"}
    text = ("See {cite}`a2014,b2020`.\n\n````{admonition} Solution\n:class: dropdown\n\nUse this:\n\n"
            "```python\nx = 1\n```\n````\nAfter.")
    out = colab.convert_markdown(text, labels)
    assert out == ("See [Able et al., 2014; Baker and Cole, 2020].\n\n<details>\n<summary>Solution</summary>\n\n"
                   "Use this:\n\n```python\nx = 1\n```\n\n</details>\nAfter.")
    import pytest

    with pytest.raises(ValueError, match="citation key"):
        colab.convert_markdown("{cite}`zz1999`", labels)
    assert colab.convert_markdown("{cite:t}`a2014` and {cite:t}`a2014,b2020` said", labels) == (
        "Able et al. [2014] and Able et al. [2014], Baker and Cole [2020] said")
    labels = colab.author_year()
    assert labels["goodfellow2014"] == "Goodfellow et al., 2014"
    assert [v for v in labels.values() if set(v) & set("\\{}")] == [], "BibTeX markup left in a citation"


def test_chapters_start_with_a_colab_install_cell():
    for chapter in _chapters():
        import jupytext

        first_code = next(c for c in jupytext.read(ROOT / f"{chapter}.md").cells if c.cell_type == "code")
        assert "google.colab" in first_code.source and "pip" in first_code.source


def test_colab_cell_ids_are_computed_from_the_text():
    import nbformat

    cells = [nbformat.v4.new_markdown_cell("same"), nbformat.v4.new_code_cell("x = 1"),
             nbformat.v4.new_markdown_cell("same")]
    ids = colab.cell_ids(cells)
    assert len(set(ids)) == 3 and all(len(i) == 8 for i in ids)
    assert colab.cell_ids(cells) == ids, "the same text must give the same ids"
    cells[1].source = "x = 2"
    changed = colab.cell_ids(cells)
    assert changed[0] == ids[0] and changed[2] == ids[2] and changed[1] != ids[1]
