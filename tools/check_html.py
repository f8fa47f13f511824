"""Check the built book as a reader sees it: every computed table is an HTML table, and the
bibliography is labelled the way the chapters cite.

A code cell that displays a Markdown table (``display(Markdown(viz.markdown_table(...)))``)
must render as a ``<table>``. Under myst-nb's default CommonMark renderer the
same output becomes one paragraph of raw ``| a | b |`` text, so this check
fails on any raw table row left in a cell's output. The bibliography page must
label every entry author-year ("Goodfellow et al., 2014", ``tools/bibstyle.py``),
never with alpha labels such as "GPAM+14", and every citation in a chapter must
read as the label of the entry it links to::

    python tools/check_html.py _build/html book/01_theory book/04_dcgan ...
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from bs4 import BeautifulSoup

#: A Markdown table row, or its header separator (``|---|:--:|``), as text.
RAW_ROW = re.compile(r"^\s*\|(.*\|)+\s*$")
SEPARATOR = re.compile(r"\|\s*:?-{3,}:?\s*\|")


def raw_table_rows(html: str) -> list[str]:
    """Lines of cell outputs that are Markdown table rows left as text (not inside ``<pre>`` or a table)."""
    soup = BeautifulSoup(html, "html.parser")
    found = []
    for output in soup.select("div.cell_output"):
        for block in output.find_all(["p", "div", "span"]):
            if block.find_parent(["pre", "table"]) is not None or block.find(["p", "div", "table", "pre"]) is not None:
                continue
            text = block.get_text("\n")
            if SEPARATOR.search(text) or any(RAW_ROW.match(line) for line in text.splitlines()):
                found.append(" ".join(text.split())[:120])
    return found


def output_tables(html: str) -> int:
    """How many ``<table>`` elements the page's cell outputs hold."""
    return len(BeautifulSoup(html, "html.parser").select("div.cell_output table"))


#: An entry label as the chapters cite: "Surname, 2014", "A and B, 2014a", "Surname et al., 2014".
AUTHOR_YEAR = re.compile(r"^\S.*, (\d{4}[a-z]?|n\.d\.)$")
YEAR = re.compile(r"^(\d{4}[a-z]?|n\.d\.)$")


def bibliography_labels(html: str) -> dict[str, str]:
    """``{anchor id: label}`` of the entries on the bibliography page, brackets removed."""
    soup = BeautifulSoup(html, "html.parser")
    return {entry.get("id", ""): " ".join(label.get_text().split()).strip("[]")
            for entry in soup.select("div.citation") if (label := entry.find("span", class_="label"))}


def bibliography_problems(html: str) -> list[str]:
    """Entries of the bibliography page whose label is not author-year (an alpha label such as ``GPAM+14``)."""
    labels = bibliography_labels(html)
    if not labels:
        return ["no bibliography entries found"]
    return [f"bibliography label [{label}] is not author-year like the citations (tools/bibstyle.py)"
            for label in labels.values() if not AUTHOR_YEAR.match(label)]


def citation_problems(html: str, labels: dict[str, str], page: str) -> list[str]:
    """Citations in a chapter (links to ``page``) whose text is not the label of the entry they link to."""
    problems = []
    for link in BeautifulSoup(html, "html.parser").select(f'a[href^="{page}#"]'):
        text = " ".join(link.get_text().split())
        if YEAR.match(text):  # a textual citation, "Goodfellow et al. [2014]": the link is the year
            text = f"{textual_author(link)}, {text}"
        label = labels.get(link["href"].split("#", 1)[1])
        if label is None:
            problems.append(f"citation {text!r} links to {link['href']}, which is no bibliography entry")
        elif not (label == text or (label[:-1] == text and label[-1].islower())):  # 2017a is cited as 2017
            problems.append(f"citation {text!r} links to the entry labelled [{label}]")
    return problems


def textual_author(link) -> str:
    """The author text a textual citation (``{cite:t}``) shows before the bracketed year ``link``:
    "Goodfellow et al." in "Goodfellow et al. [2014]", "Radford et al." in "..., Radford et al. [2016]"."""
    before = []
    for node in link.previous_siblings:
        piece = node.get_text() if hasattr(node, "get_text") else str(node)
        before.insert(0, piece)
        if "]" in piece:
            break
    text = " ".join("".join(before).split())
    return text.rsplit("]", 1)[-1].lstrip(", ").removesuffix("[").strip()


def check(html_dir: str | Path, chapters, bibliography: str | None = "book/bibliography") -> list[str]:
    """Problems found in the built pages of ``chapters`` (paths such as ``book/01_theory``) and of the
    ``bibliography`` page (``None``: not checked)."""
    problems, labels = [], None
    if bibliography is not None:
        page = Path(html_dir) / f"{bibliography}.html"
        if page.exists():
            labels = bibliography_labels(page.read_text(encoding="utf8"))
            problems += [f"{page}: {p}" for p in bibliography_problems(page.read_text(encoding="utf8"))]
        else:
            problems.append(f"{page} was not built")
    for chapter in chapters:
        page = Path(html_dir) / f"{chapter}.html"
        if not page.exists():
            problems.append(f"{page} was not built")
            continue
        html = page.read_text(encoding="utf8")
        problems += [f"{page}: raw Markdown table in an output: {row}" for row in raw_table_rows(html)]
        if labels is not None:
            target = Path(bibliography).name + ".html"
            problems += [f"{page}: {p}" for p in citation_problems(html, labels, target)]
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html_dir")
    parser.add_argument("chapters", nargs="+")
    args = parser.parse_args(argv)
    problems = check(args.html_dir, args.chapters)
    for problem in problems:
        print(problem, file=sys.stderr)
    counts = {c: output_tables((Path(args.html_dir) / f"{c}.html").read_text(encoding="utf8"))
              for c in args.chapters if (Path(args.html_dir) / f"{c}.html").exists()}
    print("computed tables rendered as <table>: " + ", ".join(f"{Path(c).name} {n}" for c, n in counts.items()))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
