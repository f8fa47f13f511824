"""The anime-face cascade is downloaded from a pinned commit and checked against its SHA-256 (no network here:
pooch's HTTP downloader is replaced by one that writes chosen bytes)."""

import hashlib
import re

import pytest

pooch = pytest.importorskip("pooch")

from gancourse.data import faces  # noqa: E402
from gancourse.data.cache import DatasetError  # noqa: E402


@pytest.fixture
def fake_download(monkeypatch, tmp_path):
    """Point the cache at ``tmp_path`` and make every HTTP download write ``served["bytes"]``."""
    monkeypatch.setenv("GANCOURSE_DATA", str(tmp_path))
    served = {"bytes": b"", "urls": []}

    def download(self, url, output_file, pooch_instance, check_only=False):
        served["urls"].append(url)
        if hasattr(output_file, "write"):
            output_file.write(served["bytes"])
        else:
            with open(output_file, "wb") as out:
                out.write(served["bytes"])

    monkeypatch.setattr(pooch.downloaders.HTTPDownloader, "__call__", download)
    return served


def test_the_cascade_url_is_pinned_to_a_commit_with_a_sha256():
    assert re.fullmatch(r"[0-9a-f]{40}", faces.ANIME_CASCADE_COMMIT)
    assert re.fullmatch(r"[0-9a-f]{64}", faces.ANIME_CASCADE_SHA256)
    assert faces.ANIME_CASCADE_URL == ("https://raw.githubusercontent.com/nagadomi/lbpcascade_animeface/"
                                       f"{faces.ANIME_CASCADE_COMMIT}/lbpcascade_animeface.xml")
    assert "/master/" not in faces.ANIME_CASCADE_URL


def test_a_download_that_differs_from_the_pinned_hash_is_refused_and_not_kept(fake_download, tmp_path):
    fake_download["bytes"] = b"<?xml version='1.0'?><not-the-cascade/>"
    with pytest.raises(DatasetError, match="does not match its pinned checksum") as err:
        faces.cascade_path("anime")
    assert faces.ANIME_CASCADE_SHA256 in str(err.value)
    assert "\n" not in str(err.value).split(": ", 1)[0]
    assert fake_download["urls"] and set(fake_download["urls"]) == {faces.ANIME_CASCADE_URL}
    assert not list((tmp_path / "cascades").glob("*.xml")), "a file with the wrong hash must not stay in the cache"


def test_a_download_with_the_pinned_hash_is_kept_and_reused(fake_download, tmp_path, monkeypatch):
    content = b"<?xml version='1.0'?><opencv_storage/>"
    monkeypatch.setattr(faces, "ANIME_CASCADE_SHA256", hashlib.sha256(content).hexdigest())
    fake_download["bytes"] = content
    path = faces.cascade_path("anime")
    assert path == tmp_path / "cascades" / "lbpcascade_animeface.xml"
    assert path.read_bytes() == content
    assert len(fake_download["urls"]) == 1
    assert faces.cascade_path("anime") == path and len(fake_download["urls"]) == 1, "a valid cached file is reused"


def test_a_cached_file_that_no_longer_matches_is_downloaded_again(fake_download, tmp_path, monkeypatch):
    content = b"<opencv_storage>pinned</opencv_storage>"
    monkeypatch.setattr(faces, "ANIME_CASCADE_SHA256", hashlib.sha256(content).hexdigest())
    stale = tmp_path / "cascades" / "lbpcascade_animeface.xml"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"an older, unpinned download")
    fake_download["bytes"] = content
    assert faces.cascade_path("anime").read_bytes() == content
    assert len(fake_download["urls"]) == 1
