"""Write ``book/api.md``, the API reference, from the package's module tree.

Every public module of ``gancourse`` (not ``__main__`` or a private ``_name``) gets a heading and an
``automodule`` entry with ``:members:``, so every public function and class
with a docstring is documented under the module that defines it, and a new
module or function cannot be left out. ``tests/test_api_reference.py`` fails
when ``book/api.md`` differs from what this script writes, or when a public
function or class has no docstring (autodoc would skip it)::

    python tools/api_reference.py          # rewrite book/api.md
"""

from __future__ import annotations

import pkgutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "book" / "api.md"

#: Sections of the page: (title, module prefixes), in reading order; a module goes to the first that matches.
SECTIONS = (
    ("Profiles and configuration", ("gancourse", "gancourse.config")),
    ("Data", ("gancourse.data", "gancourse.text")),
    ("Networks", ("gancourse.nn",)),
    ("Losses, training and metrics", ("gancourse.losses", "gancourse.training", "gancourse.metrics", "gancourse.faceid",
                                      "gancourse.birdattr", "gancourse.dlib_faces", "gancourse.stats",
                                      "gancourse.theory", "gancourse.viz")),
    ("Models", ("gancourse.models",)),
    ("The chapters' experiments", ("gancourse.experiments",)),
    ("Exercises, the Keras 2 baseline, benchmark and command line",
     ("gancourse.exercises", "gancourse.legacy", "gancourse.bench", "gancourse.cli")),
)
INTRO = """# API reference

Everything the chapters use lives in the `gancourse` package. This page is
generated from the package's docstrings by `tools/api_reference.py`: every
module has a section, and every public function and class is listed under the
module that defines it (names a package re-exports are documented where they
are defined).
"""


def modules() -> list[str]:
    """Every public module of the package, ``gancourse`` first, in import-path order (``__main__`` and private
    ``_name`` modules left out)."""
    import gancourse

    found = [m.name for m in pkgutil.walk_packages(gancourse.__path__, "gancourse.")]
    return ["gancourse"] + sorted(name for name in found if not name.rsplit(".", 1)[-1].startswith("_"))


def _section(module: str) -> str:
    for title, prefixes in SECTIONS:
        if any(module == p or (p != "gancourse" and module.startswith(p + ".")) for p in prefixes):
            return title
    raise ValueError(f"{module} belongs to no section of the API reference; add its prefix to SECTIONS")


def render() -> str:
    """The text of ``book/api.md``."""
    by_section = {title: [] for title, _ in SECTIONS}
    for module in modules():
        by_section[_section(module)].append(module)
    parts = [INTRO]
    for title, members in by_section.items():
        parts.append(f"## {title}\n")
        for module in members:
            # :ignore-module-all: documents what the module defines, not what its __all__ re-exports.
            parts.append(f"### `{module}`\n\n```{{eval-rst}}\n.. automodule:: {module}\n   :members:\n"
                         "   :ignore-module-all:\n```\n")
    return "\n".join(parts)


def main() -> int:
    sys.path.insert(0, str(ROOT))
    TARGET.write_text(render(), encoding="utf8")
    print(f"wrote {TARGET.relative_to(ROOT)} ({len(modules())} modules)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

