"""Download-and-cache helper for real datasets.

Downloads go through `pooch <https://www.fatiando.org/pooch>`_, which writes to a
temporary file and moves it into place only when the download and the checksum
succeed, so a cache never holds a partial file under the final name. Archives
are unpacked by :func:`safe_extract`, which refuses members that would land
outside the target folder (absolute paths, ``..``, links pointing out).

The cache folder is ``$GANCOURSE_DATA`` or ``~/.cache/gancourse``. Nothing in it
is ever committed to the repository.
"""

from __future__ import annotations

import os
import tarfile
import zipfile
from pathlib import Path

CACHE_ENV = "GANCOURSE_DATA"


class DatasetError(RuntimeError):
    """A dataset is missing, partial or corrupt; the message says how to get it."""


def cache_dir(*parts: str) -> Path:
    """The cache folder (created), optionally a sub-folder of it."""
    root = Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "gancourse")).expanduser()
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def fetch(url: str, *, known_hash: str | None, fname: str | None = None, subdir: str = "downloads") -> Path:
    """Download ``url`` into the cache once and return the local path.

    Args:
        url: an ``http(s)`` or ``ftp`` address.
        known_hash: ``"sha256:<hex>"`` (or ``"md5:..."``) when the file's hash is
            known; ``None`` only for sources that publish none.
        fname: file name in the cache (default: the last part of the URL).
        subdir: sub-folder of the cache.

    Raises:
        DatasetError: the download failed or the checksum did not match. A file
            with a wrong checksum is not kept.
    """
    import pooch

    target = cache_dir(subdir)
    fname = fname or url.rstrip("/").rsplit("/", 1)[-1]
    try:
        return Path(pooch.retrieve(url, known_hash=known_hash, fname=fname, path=target, progressbar=False))
    except ValueError as exc:  # pooch raises ValueError on a hash mismatch
        raise DatasetError(
            f"the download of {url} does not match its pinned checksum {known_hash}: {exc}. "
            "The file was discarded; retry later or check that the source has not changed."
        ) from exc
    except Exception as exc:  # network errors come in many types (requests, socket, ftplib)
        raise DatasetError(
            f"could not download {url} into {target}: {type(exc).__name__}: {exc}. "
            f"Check the network, or download the file by hand into {target / fname}."
        ) from exc


def _check_member(dest: Path, name: str, link: str | None = None) -> None:
    target = (dest / name).resolve()
    if not str(target).startswith(str(dest) + os.sep) and target != dest:
        raise DatasetError(f"archive member {name!r} would be written outside {dest}; refusing to extract")
    if link is not None:
        link_target = (target.parent / link).resolve()
        if not str(link_target).startswith(str(dest) + os.sep):
            raise DatasetError(f"archive link {name!r} -> {link!r} points outside {dest}; refusing to extract")


def safe_extract(archive: str | Path, dest: str | Path) -> Path:
    """Extract a ``.tar(.gz|.bz2|.xz)`` or ``.zip`` archive into ``dest``.

    Every member is checked before anything is written.

    Raises:
        DatasetError: the archive is unreadable, of an unknown type, or has a
            member that would escape ``dest``.
    """
    archive = Path(archive)
    dest = Path(dest).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    if not archive.is_file():
        raise DatasetError(f"archive {archive} does not exist")
    try:
        if tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tar:
                members = tar.getmembers()
                for m in members:
                    _check_member(dest, m.name, m.linkname if (m.issym() or m.islnk()) else None)
                    if m.isdev():
                        raise DatasetError(f"archive member {m.name!r} is a device file; refusing to extract")
                extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tar.extractall(dest, members=members, **extra)
        elif zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for name in zf.namelist():
                    _check_member(dest, name)
                zf.extractall(dest)
        else:
            raise DatasetError(
                f"{archive} is neither a tar nor a zip archive (corrupt or partial download?); "
                "delete it and download it again"
            )
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise DatasetError(
            f"{archive} is corrupt ({type(exc).__name__}: {exc}); delete it and download it again"
        ) from exc
    return dest
