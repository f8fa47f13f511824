"""A caption encoder the package owns: hashed word n-grams and a fixed random projection to 1,024 numbers.

StackGAN conditions its generators on a 1,024-number embedding of a caption.
For the CUB birds those embeddings come with the StackGAN data release: they
were computed by Reed et al.'s char-CNN-RNN text encoder ("Learning deep
representations of fine-grained visual descriptions", CVPR 2016), a Torch
(Lua) model that this package cannot run. With the real data, a model can
therefore only be conditioned on the captions that shipped with it; a new
sentence has no embedding. **A caption you type works only with this encoder
and the rendered birds** (:mod:`gancourse.data.rendered_birds`), whose
training captions were encoded by it too.

:class:`CaptionEncoder` keeps the char-CNN-RNN's interface (text in, a
``float32`` vector of :data:`~gancourse.data.captioned.EMBEDDING_DIM` numbers
out) with no training at all:

1. the caption is lower-cased and split into words (runs of letters and
   digits; punctuation and hyphens separate words, so "blue-winged" is "blue",
   "winged");
2. every word (unigram) and every pair of neighbouring words (bigram, so word
   order matters: "a red bird with blue wings" and "a blue bird with red wings"
   share all their words but not their bigrams) is a feature; a feature's
   count is its weight, bigrams count half, and function words ("a", "the",
   "with", ... :data:`STOP_WORDS`) and bigrams of two of them count a fifth,
   so that the words that describe something dominate;
3. each feature is hashed with a stable hash (``zlib.crc32`` of its UTF-8
   bytes; Python's ``hash()`` changes from one process to the next) to a row
   of a fixed random matrix: a ``dim``-vector of standard normal numbers drawn
   from ``numpy.random.default_rng((seed, hash))``, made only when a feature is
   first seen. The caption's embedding is the weighted sum of its features'
   rows, that is, the bag of hashed features times a fixed random projection;
4. the result is scaled to length ``sqrt(dim)`` (32 for 1,024 numbers), so
   each number has unit mean square: the scale a dense layer's default
   initialisation expects. A unit-length vector spread over 1,024 numbers
   gives a freshly initialised ``Dense`` outputs about 30 times smaller, and
   StackGAN's conditioning augmentation adds unit-variance noise to them: the
   caption would start buried in the noise (measured on the chapter's smoke
   run: with unit-length embeddings the generator had not begun to follow the
   colours after 18 epochs).

Random projections keep inner products approximately (Johnson-Lindenstrauss),
so captions that share words and word pairs have similar embeddings, and the
linear conditioning layers of a generator can read which words a caption
holds. Unknown words need no vocabulary: they are simply new features.
"""

from __future__ import annotations

import functools
import re
import zlib

import numpy as np

#: The embedding size of StackGAN's char-CNN-RNN embeddings (and of this encoder by default).
DIM = 1024
#: Weight of a bigram relative to a unigram.
BIGRAM_WEIGHT = 0.5
#: Function words: they say little about what a caption describes, so they (and bigrams of two of them) weigh
#: :data:`STOP_WEIGHT` times as much as other words.
STOP_WORDS = frozenset("a an the this that it its is are be has have had with and or but of on in at to for by "
                       "from as whose which who very".split())
STOP_WEIGHT = 0.2
_WORD = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> list[str]:
    """The lower-cased words of ``text`` (runs of letters and digits; everything else separates words)."""
    if not isinstance(text, str):
        raise TypeError(f"a caption must be a string, got {type(text).__name__}")
    return _WORD.findall(text.lower())


def features(text: str) -> dict[str, float]:
    """The weighted features of a caption: ``{"w:word": count, "b:word word": count * BIGRAM_WEIGHT}``, times
    :data:`STOP_WEIGHT` for a function word and for a bigram of two function words."""
    words = tokens(text)
    bag: dict[str, float] = {}
    for word in words:
        bag["w:" + word] = bag.get("w:" + word, 0.0) + (STOP_WEIGHT if word in STOP_WORDS else 1.0)
    for first, second in zip(words, words[1:]):
        key = f"b:{first} {second}"
        weight = STOP_WEIGHT if first in STOP_WORDS and second in STOP_WORDS else 1.0
        bag[key] = bag.get(key, 0.0) + BIGRAM_WEIGHT * weight
    return bag


def stable_hash(feature: str) -> int:
    """``zlib.crc32`` of the feature's UTF-8 bytes: the same number in every process and on every machine."""
    return zlib.crc32(feature.encode("utf8"))


class CaptionEncoder:
    """Captions -> ``float32`` ``(n, dim)`` vectors of length ``sqrt(dim)``: hashed unigrams and bigrams times a
    fixed random projection.

    Two encoders with the same ``dim`` and ``seed`` give identical embeddings
    (in any process); another ``seed`` gives another projection. See the module
    docstring for the steps.

    Args:
        dim: the embedding size (1,024, as StackGAN's char-CNN-RNN embeddings).
        seed: the projection's seed.
    """

    def __init__(self, dim: int = DIM, seed: int = 0):
        if int(dim) < 2:
            raise ValueError(f"dim must be >= 2, got {dim}")
        if int(seed) < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.dim, self.seed = int(dim), int(seed)
        self._rows: dict[int, np.ndarray] = {}

    def row(self, feature: str) -> np.ndarray:
        """The projection's row for ``feature``: ``dim`` standard normal numbers seeded by ``(seed, crc32)``."""
        key = stable_hash(feature)
        row = self._rows.get(key)
        if row is None:
            row = np.random.default_rng((self.seed, key)).standard_normal(self.dim).astype(np.float32)
            self._rows[key] = row
        return row

    def encode(self, texts) -> np.ndarray:
        """``float32`` ``(n, dim)`` embeddings of length ``sqrt(dim)`` of the captions ``texts`` (a string is one
        caption).

        Raises:
            ValueError: an empty caption or one with no word (say something about the bird).
            TypeError: a caption that is not a string.
        """
        from scipy import sparse

        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        unique: dict[str, int] = {}  # lower-cased caption -> row of the bag
        rows = np.empty(len(texts), np.int64)
        columns: dict[str, int] = {}  # feature -> column of the bag
        indptr, indices, weights = [0], [], []
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"caption {i} must be a string, got {type(text).__name__}")
            key = text.lower()
            if key not in unique:
                bag = features(key)
                if not bag:
                    raise ValueError(f"caption {i} ({text!r}) has no words; describe the bird, e.g. "
                                     "'a small red bird with blue wings'")
                unique[key] = len(unique)
                indices.extend(columns.setdefault(f, len(columns)) for f in bag)
                weights.extend(bag.values())
                indptr.append(len(indices))
            rows[i] = unique[key]
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        bag = sparse.csr_matrix((np.asarray(weights, np.float32), np.asarray(indices), np.asarray(indptr)),
                                shape=(len(unique), len(columns)))
        projection = np.stack([self.row(f) for f in columns])
        vectors = np.asarray(bag @ projection, np.float32)
        vectors *= np.sqrt(self.dim) / np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors[rows]

    __call__ = encode


@functools.lru_cache(maxsize=1)
def default_encoder() -> CaptionEncoder:
    """The shared :class:`CaptionEncoder` ``(dim=1024, seed=0)`` that encoded the rendered birds' captions."""
    return CaptionEncoder()


def encode_captions(texts) -> np.ndarray:
    """``float32`` ``(n, 1024)`` embeddings of ``texts`` with :func:`default_encoder`
    (see :meth:`CaptionEncoder.encode`)."""
    return default_encoder().encode(texts)
