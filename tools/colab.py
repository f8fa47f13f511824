"""Write the Colab notebooks ``book/NN_*.ipynb`` from the chapters ``book/NN_*.md``.

The ``.md`` files are the single source. Jupyter and Colab render Markdown,
not MyST, so the notebooks are converted, not paired:

* ``{cite}`key1,key2``` becomes readable author-year text from
  ``book/references.bib`` ("[Goodfellow et al., 2014]"), and a textual
  ``{cite:t}`key``` the text the book shows ("Goodfellow et al. [2014]");
* an ``{admonition}`` block becomes a collapsed ``<details>`` block whose
  summary is the admonition's title, so exercise solutions stay hidden until
  the reader opens them.

Code cells and their tags are copied unchanged, without outputs, so a Colab
form field (``PROFILE = "auto"  # @param [...]`` in the first cell) stays a
form. Cell ids are computed from the cells' text, so a notebook written again
from an unchanged chapter is byte for byte the same.
``tests/test_packaging.py`` fails when a committed notebook differs from what
this script writes, or when MyST syntax is left in one::

    python tools/colab.py            # rewrite every chapter's notebook (make sync)
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

import jupytext
import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bibstyle  # noqa: E402  (tools/bibstyle.py: the author-year labels of the bibliography page)

ROOT = Path(__file__).resolve().parents[1]
BIB = ROOT / "book" / "references.bib"
CITE = re.compile(r"\{cite(?::([a-z]+))?\}`([^`]+)`")
ADMONITION = re.compile(r"^(`{3,}):?\{admonition\}[ \t]*([^\n]*)\n((?::[\w-]+:[^\n]*\n)*)(.*?)^\1[ \t]*$",
                        re.MULTILINE | re.DOTALL)
#: What must not be left in a notebook's Markdown: roles and directives Jupyter shows as text.
RAW_MYST = re.compile(r"\{[a-z:-]+\}`|^`{3,}\{|^:::|^:class:", re.MULTILINE)


def author_year(bib: Path = BIB) -> dict[str, str]:
    """``{key: "Surname et al., 2014"}`` for every entry of the bibliography: the labels of the book's
    bibliography page (``tools/bibstyle.py``), in the order that page sorts them."""
    from pybtex.database import parse_file
    from pybtex.plugin import find_plugin

    entries = find_plugin("pybtex.style.sorting", "author_year_title")().sort(
        list(parse_file(str(bib)).entries.values()))
    return {entry.key: label for entry, label in zip(entries, bibstyle.author_year_labels(entries))}


def convert_markdown(text: str, labels: dict[str, str]) -> str:
    """One Markdown cell with its citations and admonitions made plain Markdown/HTML."""
    def cite(match):
        keys = [k.strip() for k in match.group(2).split(",")]
        unknown = [k for k in keys if k not in labels]
        if unknown:
            raise ValueError(f"citation key(s) {', '.join(unknown)} are not in {BIB.name}")
        if match.group(1) == "t":  # textual, as the book renders it: "Goodfellow et al. [2014]"
            return ", ".join("{} [{}]".format(*labels[k].rsplit(", ", 1)) for k in keys)
        return "[" + "; ".join(labels[k] for k in keys) + "]"

    def details(match):
        title, body = match.group(2).strip() or "Details", match.group(4).strip("\n")
        return f"<details>\n<summary>{title}</summary>\n\n{body}\n\n</details>"

    return CITE.sub(cite, ADMONITION.sub(details, text))


def cell_ids(cells) -> list[str]:
    """Cell ids computed from each cell's kind and text (numbered among identical cells), so writing a notebook
    again changes only the ids of the cells whose text changed (random ids would change every line's neighbour
    and make every regenerated notebook conflict with every other branch's)."""
    seen: dict[str, int] = {}
    ids = []
    for cell in cells:
        text = f"{cell.cell_type}\n{cell.source}"
        seen[text] = seen.get(text, -1) + 1
        ids.append(hashlib.sha1(f"{seen[text]}\n{text}".encode()).hexdigest()[:8])
    return ids


def colab_notebook(chapter: str | Path) -> nbformat.NotebookNode:
    """The Colab notebook of a chapter (``book/NN_name.md``)."""
    nb = jupytext.read(Path(chapter))
    labels = author_year()
    nb.metadata.pop("jupytext", None)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = convert_markdown(cell.source, labels)
        elif cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    for cell, cell_id in zip(nb.cells, cell_ids(nb.cells)):
        cell.id = cell_id
    return nb


def raw_myst(nb) -> list[str]:
    """Lines of the notebook's Markdown cells that still hold MyST syntax."""
    return [line for cell in nb.cells if cell.cell_type == "markdown"
            for line in cell.source.splitlines() if RAW_MYST.search(line)]


def chapters() -> list[Path]:
    """The chapter sources, ``book/NN_*.md``."""
    return sorted((ROOT / "book").glob("[0-9][0-9]_*.md"))


def main() -> int:
    for chapter in chapters():
        nb = colab_notebook(chapter)
        left = raw_myst(nb)
        if left:
            print(f"{chapter.name}: MyST left after conversion: {left[0]}", file=sys.stderr)
            return 1
        nbformat.write(nb, chapter.with_suffix(".ipynb"))
        print(f"wrote {chapter.with_suffix('.ipynb').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
