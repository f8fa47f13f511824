"""Serve the outputs of ``make notebooks`` to the book build of ``make book-check``.

``make notebooks`` executes each chapter once, under nbval, and
``tools/nbval_save.py`` saves the executed notebooks. ``fill`` stores them in
the jupyter-cache that myst-nb reads when ``execute_notebooks`` is ``cache``
(cached under the hash of the code cells, their metadata and the kernelspec)
and checks that each one matches its chapter as myst-nb reads the chapter; it
also writes a copy of the book's ``_config.yml`` that builds from that cache.
``check`` runs after the build and fails if the build executed a notebook
anyway (myst-nb records every notebook it executes in the cache's project)::

    python tools/book_cache.py fill --config _config.yml --config-out _build/book-check.yml \\
        --cache _build/.jupyter_cache --executed _build/executed book/01_theory.md ...
    python tools/book_cache.py check --cache _build/.jupyter_cache

The book's own ``_config.yml`` keeps ``execute_notebooks: force``: the cache
does not see ``GANCOURSE_PROFILE``, so ``make book`` always executes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nbformat
import yaml
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn, NbValidityError
from myst_nb.core.read import read_myst_markdown_notebook
from myst_parser.config.main import MdParserConfig


def read_config(config):
    """The book's configuration (a Jupyter Book ``_config.yml``) as a dict."""
    return yaml.safe_load(Path(config).read_text(encoding="utf8")) or {}


def read_chapter(chapter, myst_extensions=()):
    """A MyST Markdown chapter as myst-nb reads it for the build (a notebook node)."""
    config = MdParserConfig(enable_extensions=set(myst_extensions))
    text = Path(chapter).read_text(encoding="utf8")
    return read_myst_markdown_notebook(text, config, add_source_map=True, path=str(chapter))


def fill(cache_dir, executed_dir, chapters, myst_extensions=()):
    """Cache ``executed_dir/<stem>.ipynb`` for each chapter ``<stem>.md``.

    Raises ValueError when a chapter has no executed notebook, when a code cell
    of it did not run (execution counts must be 1, 2, ...), or when the chapter
    as myst-nb reads it would not find its executed notebook in the cache.
    """
    cache = get_cache(str(cache_dir))
    for chapter in map(Path, chapters):
        executed = Path(executed_dir) / f"{chapter.stem}.ipynb"
        if not executed.is_file():
            raise ValueError(f"{chapter}: no executed notebook {executed}; run `make notebooks` and fix its failures")
        notebook = nbformat.read(executed, as_version=4)
        try:
            cache.cache_notebook_bundle(CacheBundleIn(notebook, str(chapter)), check_validity=True, overwrite=True)
        except NbValidityError as err:
            raise ValueError(f"{chapter}: {err} in {executed}; every code cell must run under nbval") from None
        try:
            cache.match_cache_notebook(read_chapter(chapter, myst_extensions))
        except KeyError:
            raise ValueError(
                f"{chapter}: its code cells differ from {executed} as myst-nb reads them; "
                "run `make notebooks` again (or fix the conversion if the chapter is unchanged)"
            ) from None


def write_cache_config(config, cache_dir, out):
    """Write a copy of ``config`` that builds the book from the jupyter-cache in ``cache_dir``."""
    data = read_config(config)
    execute = data.setdefault("execute", {})
    execute["execute_notebooks"] = "cache"
    execute["cache"] = str(Path(cache_dir).resolve())
    # Jupyter Book resolves local_extensions' folders against the config file's folder, which moves here.
    local = data.get("sphinx", {}).get("local_extensions") or {}
    for name, folder in local.items():
        local[name] = str((Path(config).resolve().parent / folder).resolve())
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = f"# Written by tools/book_cache.py from {config}: the book built from the outputs of `make notebooks`.\n"
    out.write_text(header + yaml.safe_dump(data, sort_keys=False), encoding="utf8")


def check(cache_dir):
    """Raise ValueError naming the notebooks that the build executed instead of reading from the cache."""
    executed = get_cache(str(cache_dir)).list_project_records()
    if executed:
        names = ", ".join(sorted(record.uri for record in executed))
        raise ValueError(f"the book build executed {names}: their outputs were not in the cache filled from nbval")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fill_cmd = commands.add_parser("fill", help="cache the executed chapters and write the build's config")
    fill_cmd.add_argument("--config", required=True, help="the book's _config.yml")
    fill_cmd.add_argument("--config-out", required=True, help="where to write the config that builds from the cache")
    fill_cmd.add_argument("--cache", required=True, help="jupyter-cache folder (created)")
    fill_cmd.add_argument("--executed", required=True, help="folder of executed notebooks, <chapter stem>.ipynb")
    fill_cmd.add_argument("chapters", nargs="+", help="chapter sources (.md)")
    check_cmd = commands.add_parser("check", help="fail if the book build executed a notebook")
    check_cmd.add_argument("--cache", required=True, help="the jupyter-cache the build used")
    args = parser.parse_args(argv)
    try:
        if args.command == "fill":
            extensions = read_config(args.config).get("parse", {}).get("myst_enable_extensions", [])
            fill(args.cache, args.executed, args.chapters, extensions)
            write_cache_config(args.config, args.cache, args.config_out)
        else:
            check(args.cache)
    except ValueError as err:
        raise SystemExit(f"book_cache: {err}") from None


if __name__ == "__main__":
    main()
