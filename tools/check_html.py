"""Check the built book as a reader sees it: every computed table is an HTML table.

A code cell that displays a Markdown table (``display(Markdown(viz.markdown_table(...)))``)
must render as a ``<table>``. Under myst-nb's default CommonMark renderer the
same output becomes one paragraph of raw ``| a | b |`` text, so this check
fails on any raw table row left in a cell's output::

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


def check(html_dir: str | Path, chapters) -> list[str]:
    """Problems found in the built pages of ``chapters`` (paths such as ``book/01_theory``)."""
    problems = []
    for chapter in chapters:
        page = Path(html_dir) / f"{chapter}.html"
        if not page.exists():
            problems.append(f"{page} was not built")
            continue
        html = page.read_text(encoding="utf8")
        problems += [f"{page}: raw Markdown table in an output: {row}" for row in raw_table_rows(html)]
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
