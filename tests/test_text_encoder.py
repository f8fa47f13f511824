"""The package's caption encoder: stable hashed n-grams, a fixed projection, vectors of length sqrt(dim)."""

import numpy as np
import pytest

from gancourse import text


def test_shape_norm_dtype_and_determinism_across_instances():
    captions = ["a small red bird with blue wings", "this bird has a yellow body and green wings", "A RED BIRD!"]
    a = text.CaptionEncoder().encode(captions)
    b = text.CaptionEncoder().encode(captions)
    assert a.shape == (3, 1024) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 32.0, rtol=1e-5)  # unit mean square
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(text.encode_captions(captions), a)  # the default encoder is (1024, seed 0)
    assert text.CaptionEncoder(dim=16).encode("a red bird").shape == (1, 16)
    other_seed = text.CaptionEncoder(seed=1).encode(captions)
    assert np.abs(other_seed - a).max() > 0.1
    # case and punctuation do not matter; the same caption twice gives the same row
    np.testing.assert_allclose(text.encode_captions(["a red bird", "A red, bird."]), a[[2, 2]], atol=1e-6)


def test_stable_hash_is_crc32_not_pythons_hash():
    assert text.stable_hash("w:red") == text.stable_hash("w:red") and text.stable_hash("w:red") != text.stable_hash(
        "w:blue")
    # a known value, so a change of hash function fails here
    assert text.stable_hash("b:red bird") == 1764167810


def test_word_order_matters_through_bigrams():
    red_blue, blue_red = text.encode_captions(["a red bird with blue wings", "a blue bird with red wings"])
    assert text.features("a red bird with blue wings").keys() != text.features("a blue bird with red wings").keys()
    assert float(red_blue @ blue_red) / 1024 < 0.9  # cosine: same words, different pairs
    assert "b:red bird" in text.features("a red bird") and text.features("red red")["w:red"] == 2.0
    assert text.features("a red bird with blue wings") == {
        "w:a": 0.2, "w:red": 1.0, "w:bird": 1.0, "w:with": 0.2, "w:blue": 1.0, "w:wings": 1.0,
        "b:a red": 0.5, "b:red bird": 0.5, "b:bird with": 0.5, "b:with blue": 0.5, "b:blue wings": 0.5}
    assert text.features("of a")["b:of a"] == pytest.approx(0.1)


def test_captions_sharing_attributes_are_closer():
    from gancourse.data import rendered_birds as rb

    birds = rb.random_birds(300, seed=0)
    e = text.encode_captions([c[0] for c in rb.captions_for(birds, 10, seed=0)])  # one caption each, any wording
    similarity = e @ e.T / 1024  # cosines (every row has length 32)
    pair = (birds.class_ids[:, None] == birds.class_ids[None, :]) & ~np.eye(300, dtype=bool)
    body_only = (birds.body[:, None] == birds.body[None, :]) & (birds.wing[:, None] != birds.wing[None, :])
    nothing = (birds.body[:, None] != birds.body[None, :]) & (birds.wing[:, None] != birds.wing[None, :])
    assert similarity[pair].mean() > similarity[body_only].mean() + 0.08 > similarity[nothing].mean() + 0.16
    # function words weigh little: the same colours in other words beat other colours in the same words
    a, b, c = text.encode_captions(["a red bird with blue wings", "this bird has a red body and blue wings",
                                    "a yellow bird with green wings"])
    assert (a @ b) / 1024 > (a @ c) / 1024 + 0.2


def test_unknown_words_are_fine_and_bad_captions_are_refused():
    e = text.encode_captions(["a zyzzyva with chartreuse plumage 42"])
    assert e.shape == (1, 1024) and np.isfinite(e).all()
    assert text.encode_captions([]).shape == (0, 1024)
    for bad in ("", "   ", "?!"):
        with pytest.raises(ValueError, match="has no words"):
            text.encode_captions(["a red bird", bad])
    with pytest.raises(TypeError, match="must be a string"):
        text.encode_captions([3])
    with pytest.raises(ValueError, match="dim must be >= 2"):
        text.CaptionEncoder(dim=1)
