"""The build tools of `make notebooks` / `make book-check` (tools/nbval_save.py, tools/book_cache.py)."""

import copy
import os
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

pytest.importorskip("myst_nb", reason="the book tools need the [book] extra (jupyter-book)")
from jupyter_cache import get_cache  # noqa: E402  (installed with jupyter-book)
from nbclient import NotebookClient  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "tools"


# tools/*.py, importable by name because tests/conftest.py puts tools/ on the path
import bibstyle  # noqa: E402
import book_cache  # noqa: E402
import check_html  # noqa: E402

CELLS = [
    ("code", 'from IPython.display import HTML, clear_output, display\nprint("before")\n'
             'display(HTML("<b>shown</b>"))\nprint("after")\n6 * 7', []),
    ("markdown", "Some *text* between the cells.", []),
    ("code", "_ * 2", []),
    ("code", "6 * 8;", []),
    ("code", 'print("gone")\nclear_output(wait=True)\nprint("kept")', ["hide-input"]),
    ("code", 'import sys\nhandle = display("first", display_id=True)\nhandle.update("second")\n'
             'print("to stderr", file=sys.stderr)', []),
    ("code", 'raise ValueError("expected")', ["raises-exception"]),
    ("code", "x = 1", []),
]


def _notebook(cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"display_name": "Python 3", "language": "python", "name": "python3"}
    for kind, source, tags in cells:
        new = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        nb.cells.append(new(source, metadata={"tags": tags} if tags else {}))
    return nb


def _run_nbval(tmp_path, names, *extra):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TOOLS), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "nbval_save", "--nbval-lax",
         "--nbval-current-env", f"--nbval-save-dir={tmp_path / 'executed'}", *extra, *names],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )


def _comparable(outputs):
    """Outputs with consecutive stream chunks joined (their split depends on timing) and tracebacks dropped."""
    merged = []
    for output in outputs:
        output = dict(copy.deepcopy(output))
        if output["output_type"] == "error":
            output.pop("traceback")
        if merged and output["output_type"] == "stream" and merged[-1].get("name") == output.get("name"):
            merged[-1]["text"] += output["text"]
        else:
            merged.append(output)
    return merged


def test_saved_notebook_has_the_outputs_nbclient_produces(tmp_path):
    nbformat.write(_notebook(CELLS), tmp_path / "demo.ipynb")
    run = _run_nbval(tmp_path, ["demo.ipynb"])
    assert run.returncode == 0, run.stdout + run.stderr
    assert "executed notebooks written to" in run.stdout and "demo.ipynb" in run.stdout
    saved = nbformat.read(tmp_path / "executed" / "demo.ipynb", as_version=4)
    nbformat.validate(saved)

    oracle = _notebook(CELLS)
    NotebookClient(oracle, kernel_name="python3", record_timing=False).execute()
    assert saved.metadata.language_info["name"] == oracle.metadata.language_info["name"] == "python"
    assert saved.metadata.language_info["pygments_lexer"] == oracle.metadata.language_info["pygments_lexer"]
    assert len(saved.cells) == len(oracle.cells) == len(CELLS)
    for got, want in zip(saved.cells, oracle.cells):
        assert got.source == want.source and got.metadata == want.metadata
        if got.cell_type == "code":
            assert got.execution_count == want.execution_count
            assert _comparable(got.outputs) == _comparable(want.outputs)

    first, _, last_result, semicolon, cleared, displayed, raised, silent = saved.cells
    assert [o["output_type"] for o in _comparable(first.outputs)] == ["stream", "display_data", "stream", "execute_result"]
    assert first.outputs[-1].data["text/plain"] == "42" and first.outputs[-1].execution_count == 1
    assert last_result.outputs[0].data["text/plain"] == "84" and last_result.outputs[0].execution_count == 2
    assert semicolon.outputs == []  # IPython's `;` works as in Jupyter (not under nbval's store_history=False)
    assert _comparable(cleared.outputs) == [{"output_type": "stream", "name": "stdout", "text": "kept\n"}]
    assert displayed.outputs[0].data["text/plain"] == "'second'" and displayed.outputs[1].name == "stderr"
    assert raised.outputs[0].ename == "ValueError" and raised.outputs[0].evalue == "expected"
    assert silent.outputs == [] and silent.execution_count == 7


def test_failing_or_partly_run_notebooks_are_not_saved(tmp_path):
    nbformat.write(_notebook([("code", "print(1)", []), ("code", "1 / 0", [])]), tmp_path / "failing.ipynb")
    nbformat.write(_notebook([("code", "print(1)", []), ("code", "print(2)", [])]), tmp_path / "partial.ipynb")
    run = _run_nbval(tmp_path, ["failing.ipynb", "partial.ipynb"], "--deselect", "partial.ipynb::Cell 1")
    assert run.returncode == 1, run.stdout + run.stderr
    assert list((tmp_path / "executed").iterdir()) == []
    assert "not written (a cell failed or did not run): failing.ipynb, partial.ipynb" in run.stdout


CHAPTER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A chapter

```{code-cell} ipython3
:tags: [hide-input]

print("hello")
```

Text with $x^2$ math.

```{code-cell} ipython3
6 * 7
```
"""


def _executed_chapter(text, counts=(1, 2)):
    nb = nbformat.reads(jupytext.writes(jupytext.reads(text, fmt="md:myst"), fmt="ipynb"), as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    code[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="hello\n")]
    code[1].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "42"}, execution_count=2)]
    for cell, count in zip(code, counts):
        cell.execution_count = count
    return nb


def test_fill_serves_the_executed_outputs_to_the_chapter_as_myst_nb_reads_it(tmp_path):
    chapter = tmp_path / "book" / "01_demo.md"
    chapter.parent.mkdir()
    chapter.write_text(CHAPTER)
    executed = tmp_path / "executed"
    executed.mkdir()
    nbformat.write(_executed_chapter(CHAPTER), executed / "01_demo.ipynb")
    book_cache.fill(tmp_path / "cache", executed, [chapter], ["dollarmath"])

    _, merged = get_cache(str(tmp_path / "cache")).merge_match_into_notebook(book_cache.read_chapter(chapter))
    code = [cell for cell in merged.cells if cell.cell_type == "code"]
    assert code[0].metadata["tags"] == ["hide-input"] and code[0].outputs[0].text == "hello\n"
    assert code[1].outputs[0].data["text/plain"] == "42"
    assert [cell.cell_type for cell in merged.cells] == ["markdown", "code", "markdown", "code"]


def test_fill_rejects_missing_unrun_and_stale_notebooks(tmp_path):
    chapter = tmp_path / "01_demo.md"
    chapter.write_text(CHAPTER)
    executed = tmp_path / "executed"
    executed.mkdir()
    with pytest.raises(ValueError, match="no executed notebook .*01_demo.ipynb; run `make notebooks`"):
        book_cache.fill(tmp_path / "cache", executed, [chapter])
    nbformat.write(_executed_chapter(CHAPTER, counts=(1, None)), executed / "01_demo.ipynb")
    with pytest.raises(ValueError, match="execution_count 2 not None .*every code cell must run under nbval"):
        book_cache.fill(tmp_path / "cache", executed, [chapter])
    nbformat.write(_executed_chapter(CHAPTER), executed / "01_demo.ipynb")
    chapter.write_text(CHAPTER.replace("6 * 7", "6 * 8"))
    with pytest.raises(ValueError, match="01_demo.md: its code cells differ from .*run `make notebooks` again"):
        book_cache.fill(tmp_path / "cache", executed, [chapter])


def test_cache_config_and_check(tmp_path):
    config = tmp_path / "_config.yml"
    config.write_text("title: A book\nexecute:\n  execute_notebooks: force\n  timeout: 30\n"
                      "sphinx:\n  local_extensions:\n    bibstyle: tools\n")
    out = tmp_path / "build" / "check.yml"
    book_cache.write_cache_config(config, tmp_path / "cache", out)
    written = yaml.safe_load(out.read_text())
    assert written["title"] == "A book"
    # the copy lives in another folder: an extension folder relative to the book must still point there
    assert written["sphinx"]["local_extensions"] == {"bibstyle": str((tmp_path / "tools").resolve())}
    assert written["execute"] == {"execute_notebooks": "cache", "timeout": 30,
                                  "cache": str((tmp_path / "cache").resolve())}

    book_cache.check(tmp_path / "cache")  # nothing executed: passes
    chapter = tmp_path / "01_demo.md"
    chapter.write_text(CHAPTER)
    get_cache(str(tmp_path / "cache")).add_nb_to_project(str(chapter))  # what myst-nb does before executing
    with pytest.raises(ValueError, match="the book build executed .*01_demo.md"):
        book_cache.check(tmp_path / "cache")
    with pytest.raises(SystemExit, match="book_cache: the book build executed"):
        book_cache.main(["check", "--cache", str(tmp_path / "cache")])


def test_check_html_finds_raw_markdown_tables_in_outputs(tmp_path):
    raw = ('<div class="cell_output"><div class="output text_markdown"><p>| a | b |\n|---|---|\n| 1 | 2 |</p>'
           '</div></div>')
    table = ('<div class="cell_output"><div class="output text_markdown"><table><tr><td>| a |</td></tr></table>'
             '</div></div><div class="cell_output"><pre>| printed | text |</pre></div>')
    assert len(check_html.raw_table_rows(raw)) == 1
    assert check_html.raw_table_rows(table) == [] and check_html.output_tables(table) == 1
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "ch.html").write_text(raw)
    (tmp_path / "book" / "ok.html").write_text(table)
    (tmp_path / "book" / "bibliography.html").write_text(_bibliography_page("Goodfellow et al., 2014"))
    assert check_html.check(tmp_path, ["book/ok"]) == []
    problems = check_html.check(tmp_path, ["book/ch", "book/missing"])
    assert "raw Markdown table" in problems[0] and "was not built" in problems[1]
    assert check_html.main([str(tmp_path), "book/ch"]) == 1 and check_html.main([str(tmp_path), "book/ok"]) == 0


def _bibliography_page(*labels):
    return "".join(f'<div class="citation" id="id{i}" role="doc-biblioentry"><span class="label">'
                   f'<span class="fn-bracket">[</span>{label}<span class="fn-bracket">]</span></span>'
                   f"<p>An entry.</p></div>" for i, label in enumerate(labels))


def test_check_html_wants_author_year_bibliography_labels_that_match_the_citations(tmp_path):
    good = _bibliography_page("Goodfellow et al., 2014", "Ioffe and Szegedy, 2015", "Hindupur, 2017",
                              "Zhu et al., 2017a", "Zhu et al., 2017b")
    assert check_html.bibliography_problems(good) == []
    labels = check_html.bibliography_labels(good)
    assert labels["id0"] == "Goodfellow et al., 2014" and len(labels) == 5
    alpha = _bibliography_page("GPAM+14", "Goodfellow et al., 2014", "IS15")
    assert [p.split("]")[0] for p in check_html.bibliography_problems(alpha)] == [
        "bibliography label [GPAM+14", "bibliography label [IS15"]
    assert check_html.bibliography_problems("<p>no entries</p>") == ["no bibliography entries found"]

    cite = '<p><a href="bibliography.html#{}">{}</a></p>'.format
    chapter = cite("id0", "Goodfellow <em>et al.</em>, 2014") + cite("id3", "Zhu et al., 2017")
    assert check_html.citation_problems(chapter, labels, "bibliography.html") == []
    textual = ('<p><span class="bibtex-citation">Goodfellow <em>et al.</em> [<a href="bibliography.html#id0">2014'
               '</a>], Zhu et al. [<a href="bibliography.html#id3">2017</a>]</span></p>')
    assert check_html.citation_problems(textual, labels, "bibliography.html") == []
    swapped = textual.replace("#id0", "#id1")
    assert "'Goodfellow et al., 2014' links to the entry labelled [Ioffe" in check_html.citation_problems(
        swapped, labels, "bibliography.html")[0]
    wrong = cite("id1", "Goodfellow et al., 2014") + cite("id9", "Nobody, 1999")
    problems = check_html.citation_problems(wrong, labels, "bibliography.html")
    assert "labelled [Ioffe and Szegedy, 2015]" in problems[0] and "no bibliography entry" in problems[1]

    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "ch.html").write_text(chapter)
    (tmp_path / "book" / "bibliography.html").write_text(alpha)
    assert any("GPAM+14" in p for p in check_html.check(tmp_path, ["book/ch"]))
    (tmp_path / "book" / "bibliography.html").write_text(good)
    assert check_html.check(tmp_path, ["book/ch"]) == []
    (tmp_path / "book" / "bibliography.html").unlink()
    assert "was not built" in check_html.check(tmp_path, ["book/ch"])[0]


def test_bibliography_style_labels_entries_as_the_chapters_cite_them():
    from pybtex.database import parse_string
    from pybtex.plugin import find_plugin

    bib = parse_string("""
        @article{one, author = {Bi{\\'n}kowski, Miko{\\l}aj}, title = {T}, journal = {J}, year = {2018}}
        @article{two, author = {Ioffe, Sergey and Szegedy, Christian}, title = {T}, journal = {J}, year = {2015}}
        @article{many, author = {Zhu, A and Park, B and Isola, C}, title = {Unpaired}, journal = {J}, year = {2017}}
        @article{many2, author = {Zhu, A and Other, D and Third, E}, title = {Another}, journal = {J}, year = {2017}}
        @misc{nobody, title = {The {GAN} zoo}}
    """, "bibtex")
    entries = bib.entries
    assert bibstyle.author_year(entries["one"]) == "Bińkowski, 2018"
    assert bibstyle.author_year(entries["two"]) == "Ioffe and Szegedy, 2015"
    assert bibstyle.author_year(entries["nobody"]) == "The GAN zoo, n.d."
    assert bibstyle.author_year_labels([entries["many"], entries["many2"], entries["two"]]) == [
        "Zhu et al., 2017a", "Zhu et al., 2017b", "Ioffe and Szegedy, 2015"]
    style = find_plugin("pybtex.style.formatting", bibstyle.NAME)()
    formatted = list(style.format_entries(style.sort(list(entries.values()))))
    assert [f.label for f in formatted] == ["The GAN zoo, n.d.", "Bińkowski, 2018", "Ioffe and Szegedy, 2015",
                                            "Zhu et al., 2017a", "Zhu et al., 2017b"]  # sorted as alpha sorts
    # the book's configuration selects the style and loads the extension that registers it
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["sphinx"]["config"]["bibtex_default_style"] == bibstyle.NAME
    assert (ROOT / config["sphinx"]["local_extensions"]["bibstyle"] / "bibstyle.py").exists()
