"""Author-year labels for the bibliography page (a Sphinx extension loaded by ``_config.yml``).

The chapters cite author-year ("Goodfellow et al., 2014", sphinxcontrib-bibtex's
``author_year`` reference style), but the bibliography directive labels its
entries with the formatting style's label plugin, ``alpha`` by default
("[GPAM+14]"). This module registers a pybtex formatting style,
``gancourse_author_year``, that sorts like ``alpha`` (author, year, title) and
labels every entry the way the text cites it, and ``_config.yml`` selects it
with ``bibtex_default_style``. Two entries with the same label get ``a``,
``b``... after the year. ``tools/colab.py`` writes the Colab notebooks'
citations with the same :func:`author_year` text, and ``tools/check_html.py``
checks the built page.
"""

from __future__ import annotations

from collections import Counter
from string import ascii_lowercase

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle

NAME = "gancourse_author_year"


def _plain(latex: str) -> str:
    """BibTeX text (``Bi{\\'n}kowski``) as plain Unicode (``Bińkowski``)."""
    return Text.from_latex(latex).render_as("text")


def author_year(entry) -> str:
    """``"Surname, 2014"``, ``"Surname and Other, 2014"`` or ``"Surname et al., 2014"`` for a pybtex entry
    (editors when there are no authors, the title when there are neither)."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_plain(" ".join(person.last_names)) for person in people]
    if not names:
        names = [_plain(entry.fields.get("title", getattr(entry, "key", "?")))]
    who = names[0] if len(names) == 1 else (f"{names[0]} and {names[1]}" if len(names) == 2 else f"{names[0]} et al.")
    return f"{who}, {_plain(entry.fields.get('year', 'n.d.'))}"


def author_year_labels(entries) -> list[str]:
    """:func:`author_year` of each entry, in order; labels that repeat get ``a``, ``b``... in that order."""
    labels = [author_year(entry) for entry in entries]
    counts, seen = Counter(labels), Counter()
    out = []
    for label in labels:
        if counts[label] > 1:
            out.append(label + ascii_lowercase[seen[label] % 26])
            seen[label] += 1
        else:
            out.append(label)
    return out


class AuthorYearLabelStyle(BaseLabelStyle):
    """pybtex label style: the author-year text the chapters cite with."""

    def format_labels(self, sorted_entries):
        """Yield one label per entry (see :func:`author_year_labels`)."""
        yield from author_year_labels(list(sorted_entries))


class AuthorYearStyle(UnsrtStyle):
    """pybtex formatting style: ``unsrt``'s entries, sorted by author, year and title, labelled author-year."""

    default_sorting_style = "author_year_title"
    default_label_style = NAME


register_plugin("pybtex.style.labels", NAME, AuthorYearLabelStyle, force=True)
register_plugin("pybtex.style.formatting", NAME, AuthorYearStyle, force=True)


def setup(app):
    """Sphinx entry point: the styles are registered on import; nothing else to set up."""
    return {"parallel_read_safe": True, "parallel_write_safe": True}
