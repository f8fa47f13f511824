"""Download-and-cache helper for real datasets.

Downloads go through `pooch <https://www.fatiando.org/pooch>`_, which writes to a
temporary file and moves it into place only when the download and the checksum
succeed, so a cache never holds a partial file under the final name. Archives
are unpacked by :func:`safe_extract`, which checks every member with the
standard library's ``tarfile`` ``data`` filter before writing anything and
refuses members that would land outside the target folder (absolute paths,
``..``, links pointing out, device files).

The cache folder is ``$GANCOURSE_DATA`` or ``~/.cache/gancourse``. Nothing in it
is ever committed to the repository.
"""

from __future__ import annotations

import os
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath, PureWindowsPath

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


def _refuse(member: str, dest: Path, why: str) -> DatasetError:
    return DatasetError(f"archive member {member!r} {why}; refusing to extract into {dest} "
                        "(the archive is not the published one: delete it and download it again)")


def _filter_refusal(exc: tarfile.FilterError, dest: Path) -> DatasetError:
    member = exc.tarinfo
    why = {tarfile.OutsideDestinationError: "would be written outside the destination",
           tarfile.AbsoluteLinkError: f"is a link to the absolute path {member.linkname!r}",
           tarfile.LinkOutsideDestinationError: f"is a link to {member.linkname!r}, outside the destination",
           tarfile.SpecialFileError: "is a device file, FIFO or other special file"}
    return _refuse(member.name, dest, why.get(type(exc), f"is refused by tarfile's data filter ({exc})"))


def _check_tar(tar: tarfile.TarFile, dest: Path) -> None:
    """Run the standard library's ``data`` filter over every member before anything is written.

    The filter would silently strip a leading ``/``; an absolute member name is
    refused here instead, like every other member the filter rejects.
    """
    for member in tar.getmembers():
        try:
            filtered = tarfile.data_filter(member, str(dest))
        except tarfile.FilterError as exc:  # outside dest, links pointing out, device files
            raise _filter_refusal(exc, dest) from None
        if filtered.name != member.name:
            raise _refuse(member.name, dest, "has an absolute path")


def _check_zip(zf: zipfile.ZipFile, dest: Path) -> None:
    """Refuse absolute names and ``..`` parts, which ``ZipFile.extractall`` would silently rewrite.

    ``extractall`` strips leading slashes, drive letters and ``..`` parts and
    writes symbolic links as plain files, so no zip member can escape ``dest``;
    a member whose name needs that rewriting means a broken or hostile archive.
    """
    for name in zf.namelist():
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or PureWindowsPath(name).drive or ".." in parts:
            raise _refuse(name, dest, "has an absolute path or a '..' part")


def safe_extract(archive: str | Path, dest: str | Path) -> Path:
    """Extract a ``.tar(.gz|.bz2|.xz)`` or ``.zip`` archive into ``dest``.

    Every member is checked before anything is written: tar members through
    the standard library's ``data`` extraction filter (:func:`tarfile.data_filter`:
    no absolute paths, nothing outside ``dest``, no links pointing out, no
    device files, no setuid bits), which also guards the extraction itself;
    zip members by name (see :func:`_check_zip`).

    Raises:
        DatasetError: the archive is missing, unreadable, of an unknown type, or
            has a member that would escape ``dest`` (the message names it).
    """
    if not hasattr(tarfile, "data_filter"):
        raise DatasetError(f"extracting {archive} safely needs tarfile.data_filter (Python >= 3.10.12, "
                           ">= 3.11.4 or >= 3.12); upgrade Python")
    archive = Path(archive)
    dest = Path(dest).resolve()
    if not archive.is_file():
        raise DatasetError(f"archive {archive} does not exist")
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tar:
                _check_tar(tar, dest)
                tar.extractall(dest, filter="data")
        elif zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                _check_zip(zf, dest)
                zf.extractall(dest)
        else:
            raise DatasetError(
                f"{archive} is neither a tar nor a zip archive (corrupt or partial download?); "
                "delete it and download it again"
            )
    except tarfile.FilterError as exc:  # judged again while extracting (links made by earlier members)
        raise _filter_refusal(exc, dest) from exc
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
        raise DatasetError(
            f"{archive} is corrupt ({type(exc).__name__}: {exc}); delete it and download it again"
        ) from exc
    return dest


def dataset_root(name: str, url: str, *, marker: str, data_dir: str | Path | None = None, subdir: str,
                 advice: str = "", known_hash: str | None = None) -> Path:
    """The folder of dataset ``name`` that holds the sub-folder ``marker``.

    With ``data_dir``: ``data_dir/<name>`` or ``data_dir`` itself, nothing
    downloaded. Otherwise the archive at ``url`` is downloaded once into the
    cache's ``subdir`` (:func:`fetch`, checked against ``known_hash``, ``"md5:<hex>"``
    or ``"sha256:<hex>"``, when the publisher gives one; otherwise callers check the
    file counts instead) and extracted next to it with :func:`safe_extract` into
    ``extracted/``.

    Raises:
        DatasetError: no such folder under ``data_dir`` (``advice`` ends the
            message), a failed download, a corrupt archive, or an archive
            without ``<name>/<marker>``.
    """
    if data_dir is not None:
        for candidate in (Path(data_dir) / name, Path(data_dir)):
            if (candidate / marker).is_dir():
                return candidate
        raise DatasetError(f"no {name} dataset under {data_dir}: expected {Path(data_dir) / name}/{marker}/*.jpg"
                           f"{' ' + advice if advice else ''}")
    archive = fetch(url, known_hash=known_hash, subdir=subdir)
    dest = archive.parent / "extracted"
    if not (dest / name / marker).is_dir():
        safe_extract(archive, dest)
    if not (dest / name / marker).is_dir():
        raise DatasetError(f"{archive} does not contain {name}/{marker}; delete it and download it again")
    return dest / name
