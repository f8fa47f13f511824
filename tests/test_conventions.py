"""The chapter conventions of CONTRIBUTING.md, checked on every chapter in _toc.yml.

Each check is a small function tested here on made-up cells (so it can fail) and then run over the chapters.
Checks that need a built book live in tools/check_html.py (tables as <table>, bibliography labels); the Colab
notebooks' sync in tests/test_packaging.py; the API reference's completeness in tests/test_api_reference.py.
"""

import ast
import re
from pathlib import Path

import jupytext
import pytest
import yaml

import gancourse

ROOT = Path(__file__).resolve().parents[1]
PARAM = re.compile(r'^PROFILE = "(?P<default>[a-z]+)"\s+# @param (?P<options>\[.*\])\s*$', re.MULTILINE)
#: A width in a format spec ({name:>15}, {x:8.3f}, {'preset':18}; not {x:.3f} or {i:03d}) in an f-string or
#: str.format line, or a padding call.
WIDTH_SPEC = re.compile(r"\{[^{}:]*:(?:[^{}]?[<>^=])?[+\- ]?[1-9]\d*[,_]?(?:\.\d+)?[a-zA-Z%]?\}")
FORMATTED = re.compile(r"""\bf["']|\.format\(""")
PADDING = re.compile(r"\.(?:ljust|rjust|center)\(|\.to_string\(")
#: A count with two or more thousands groups typed in prose (1,234,567): such counts are computed on the page.
TYPED_COUNT = re.compile(r"(?<![\w.,])\d{1,3}(?:,\d{3}){2,}(?![\d,])")
#: What a chapter may not define itself: networks and training loops come from gancourse.
OWN_MODEL = re.compile(r"^\s*class \w+\(\s*(?:keras\.)?(?:Model|Sequential|layers\.Layer|Layer)\b|"
                       r"^\s*def train_step\(|"
                       r"\bkeras\.layers\.[A-Z]\w*\(|\bkeras\.(?:Sequential|Model)\(", re.MULTILINE)
HIDDEN_WARNINGS = re.compile(r"warnings\.(?:filterwarnings|simplefilter)\(\s*[\"']ignore|logging\.disable\(")

#: Conventions the chapters break today, by chapter, with what breaks them (none now).
#: The test fails when a new break appears, and also when a listed one is gone (delete its line).
PENDING: dict[tuple[str, str], str] = {}


def chapters():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]
    return [f for f in files if re.match(r"book/\d\d_", f)]


def cells(chapter):
    return jupytext.read(ROOT / f"{chapter}.md").cells


def code_of(nb_cells):
    return [c.source for c in nb_cells if c.cell_type == "code"]


# -- the checks ----------------------------------------------------------------------------------------------------

def first_cell_problems(source: str, tags=()) -> list[str]:
    """What the first code cell lacks: the Colab install, the PROFILE form field, the selector call."""
    problems = []
    if "google.colab" not in source or "pip" not in source or "gancourse" not in source:
        problems.append("it does not install gancourse in Colab")
    match = PARAM.search(source)
    if match is None:
        problems.append('no form field `PROFILE = "auto"  # @param ["auto", "smoke", "standard", "full"]`')
    else:
        options = ast.literal_eval(match["options"])
        if options != list(gancourse.PROFILE_CHOICES) or match["default"] != "auto":
            problems.append(f"PROFILE's options {options} / default {match['default']!r} are not "
                            f"{list(gancourse.PROFILE_CHOICES)} / 'auto'")
    if "gancourse.select_profile(PROFILE)" not in source:
        problems.append("it does not call gancourse.select_profile(PROFILE)")
    if "hide-input" not in tags:
        problems.append("it is not tagged hide-input")
    return problems


def fixed_width(code: list[str]) -> list[str]:
    """Lines of code cells that print fixed-width text (tables belong in viz.markdown_table)."""
    return [line.strip() for source in code for line in source.splitlines()
            if PADDING.search(line) or (FORMATTED.search(line) and WIDTH_SPEC.search(line))]


def typed_counts(markdown: list[str]) -> list[str]:
    """Large counts typed into Markdown prose (math and code spans included)."""
    return [m.group() for text in markdown for m in TYPED_COUNT.finditer(text)]


def broken(chapter) -> dict[str, list[str]]:
    nb = cells(chapter)
    code = code_of(nb)
    markdown = [c.source for c in nb if c.cell_type == "markdown"]
    return {"fixed_width": fixed_width(code), "typed_counts": typed_counts(markdown)}


# -- the checks can fail -------------------------------------------------------------------------------------------

def test_first_cell_check_catches_what_is_missing():
    good = ('PROFILE = "auto"  # @param ["auto", "smoke", "standard", "full"]\nimport sys\n'
            'if "google.colab" in sys.modules:\n    pip_install("gancourse")\nimport gancourse\n'
            "gancourse.select_profile(PROFILE)\n")
    assert first_cell_problems(good, ["hide-input"]) == []
    assert len(first_cell_problems("import gancourse", [])) == 4
    narrowed = good.replace(', "full"]', "]")
    assert "options" in first_cell_problems(narrowed, ["hide-input"])[0]
    assert "select_profile" in first_cell_problems(good.replace("(PROFILE)", '("smoke")'), ["hide-input"])[0]


def test_own_model_check_catches_networks_built_in_a_chapter():
    for code in ("class D(keras.Model):", "  def train_step(self, data):",
                 'block = [keras.layers.Conv2D(64, 4, 2, padding="same")]', "net = keras.Sequential(block)",
                 "m = keras.Model(inputs, outputs)"):
        assert OWN_MODEL.findall(code), code
    for code in ("gan = dcgan.DCGAN(cfg)", "print(inspect.getsource(ch08.LayerBuiltInCall))",
                 "keras.utils.set_random_seed(0)", "# keras.layers.Dense is a layer"):
        assert OWN_MODEL.findall(code) == [], code


def test_fixed_width_and_typed_count_checks():
    assert fixed_width(['print(f"{name:>15}: {v:.3f}")', "print(f\"{'preset':18} {n:6d}\")",
                        'print(f"{x:8.2f}")', "print(s.ljust(10))", "print(df.to_string())"]) == [
        'print(f"{name:>15}: {v:.3f}")', "print(f\"{'preset':18} {n:6d}\")", 'print(f"{x:8.2f}")',
        "print(s.ljust(10))", "print(df.to_string())"]
    assert fixed_width(['print(f"{v:.3f} {n:,} {i:03d} {p:.1%}")', "display(Markdown(viz.markdown_table(rows)))",
                        'path = f"{name}_{epoch}.png"', "d = {'a': 1}"]) == []
    assert typed_counts(["The TF tutorial's U-Net has 54,425,859 parameters.", "cost 1,234,567 (or $1,000,000$)"]) \
        == ["54,425,859", "1,234,567", "1,000,000"]
    assert typed_counts(["60,000 training images, 202,599 faces, version 1.2,345", "a 3.5,000"]) == []


# -- the chapters --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("chapter", chapters())
def test_chapter_starts_with_the_install_and_profile_selector_cell(chapter):
    first = next(c for c in cells(chapter) if c.cell_type == "code")
    assert first_cell_problems(first.source, first.metadata.get("tags", [])) == [], f"{chapter}'s first code cell"


@pytest.mark.parametrize("chapter", chapters())
def test_colab_notebook_keeps_the_form_field(chapter):
    import nbformat

    nb = nbformat.read(ROOT / f"{chapter}.ipynb", as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert first_cell_problems(first.source, first.metadata.get("tags", [])) == [], f"{chapter}.ipynb's first cell"
    assert PARAM.search(first.source)["default"] == "auto"


@pytest.mark.parametrize("chapter", chapters())
def test_chapter_uses_the_package_and_defines_no_model_or_loop(chapter):
    code = "\n".join(code_of(cells(chapter)))
    assert re.search(r"^(?:from gancourse[\w.]* import|import gancourse)", code, re.MULTILINE), chapter
    assert OWN_MODEL.findall(code) == [], f"{chapter} defines a model or train_step: put it in gancourse"
    assert HIDDEN_WARNINGS.findall(code) == [], f"{chapter} hides warnings: fix their cause instead"
    assert "chapter executed in" in code, f"{chapter} does not print its execution time at the end"


@pytest.mark.parametrize("chapter", chapters())
def test_chapter_exercises_are_checked_and_their_solutions_hidden(chapter):
    from gancourse import exercises

    nb = cells(chapter)
    text = "\n".join(c.source for c in nb)
    number = Path(chapter).name[:2]
    used = re.findall(r'exercises\.check\("([^"]+)"', text)
    assert used, f"{chapter} has no exercise graded by exercises.check"
    assert set(used) <= set(exercises.list_exercises()), f"{chapter} checks unknown exercises"
    assert all(u.startswith(number + ".") for u in used)
    solutions = re.findall(r"^`{3,}\{admonition\} Solution\n((?::\w+:.*\n)*)", text, re.MULTILINE)
    assert len(solutions) >= len(set(used)), f"{chapter}: every exercise needs a Solution admonition"
    assert all(":class: dropdown" in options for options in solutions), f"{chapter}: solutions must be hidden"


@pytest.mark.parametrize("chapter", chapters())
def test_chapter_prints_no_fixed_width_tables_and_types_no_counts(chapter):
    found = broken(chapter)
    for kind, items in found.items():
        pending = PENDING.get((chapter, kind))
        if pending:
            assert items, f"{chapter} no longer has {kind} ({pending}): delete its line from PENDING"
        else:
            assert items == [], f"{chapter}: {kind}: {items[:3]} (see CONTRIBUTING.md)"


def test_python_warnings_are_shown_in_the_book():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    sphinx = config["sphinx"]["config"]
    assert sphinx.get("nb_output_stderr", "show") == "show", "stderr must reach the page: warnings are lessons"
    assert sphinx["nb_render_markdown_format"] == "gfm", "computed Markdown tables need GFM to become <table>"
    assert config["execute"]["allow_errors"] is False


def test_makefile_runs_the_chapters_on_smoke_and_checks_the_built_html():
    makefile = (ROOT / "Makefile").read_text()
    assert "export GANCOURSE_PROFILE ?= smoke" in makefile  # "auto" in the first cell keeps it
    assert "tools/check_html.py" in makefile and "tools/colab.py" in makefile


def test_contributing_guide_is_linked_and_names_the_tools():
    guide = (ROOT / "CONTRIBUTING.md").read_text()
    assert "CONTRIBUTING.md" in (ROOT / "README.md").read_text()
    for name in ("markdown_table", "tools/colab.py", "make sync", "select_profile", "stats.compare",
                 "tools/api_reference.py", "tools/check_html.py", "tests/test_conventions.py"):
        assert name in guide, name


def test_readme_and_intro_show_the_selector_as_the_chapters_do():
    first = next(c for c in cells(chapters()[0]) if c.cell_type == "code").source
    line = PARAM.search(first).group().strip()
    for page in ("README.md", "book/intro.md"):
        text = (ROOT / page).read_text()
        assert line in text, f"{page} does not show the first cell's {line!r}"
        assert "GANCOURSE_PROFILE" in text and "auto" in text
        assert 'os.environ["GANCOURSE_PROFILE"]' not in text, f"{page} still tells readers to set the variable"


#: "Goodfellow et al. {cite}`goodfellow2014`" renders the authors twice ("Goodfellow et al. [Goodfellow et al.,
#: 2014]"); a textual citation is written {cite:t}`goodfellow2014` ("Goodfellow et al. [2014]").
NAMED_THEN_CITED = re.compile(r"(?:\bet al\.|\b[A-Z][\w-]+ and [A-Z][\w-]+)\s+\{cite\}`")


@pytest.mark.parametrize("chapter", chapters())
def test_chapter_names_authors_once_per_citation(chapter):
    text = (ROOT / f"{chapter}.md").read_text(encoding="utf8")
    assert NAMED_THEN_CITED.findall(text) == [], f"{chapter}: write {{cite:t}}`key` instead of 'Authors {{cite}}`key`'"


def test_named_then_cited_check_catches_both_forms():
    assert NAMED_THEN_CITED.search("as Isola et al. {cite}`isola2017` showed")
    assert NAMED_THEN_CITED.search("Ioffe and Szegedy\n{cite}`ioffe2015`")
    assert not NAMED_THEN_CITED.search("as {cite:t}`isola2017` showed, the U-Net {cite}`ronneberger2015`")
