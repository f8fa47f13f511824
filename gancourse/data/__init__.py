"""Datasets: a registry of real and offline datasets, streaming pipelines, caching.

Every dataset is an entry of :data:`REGISTRY` (a :class:`DatasetSpec`), and
``get(name).load(split, cfg, data_dir)`` returns its batched ``tf.data.Dataset``:
``images`` datasets yield ``float32`` ``(B, H, W, C)`` batches in ``[-1, 1]``,
``pairs`` datasets yield ``(input, target)`` batches of that form and
``unpaired`` datasets ``(a, b)`` batches of two unrelated domains and
``superres`` datasets ``(lr, hr)`` batches, the LR image made from the HR
image by :func:`gancourse.data.superres.degrade`, and ``voxels`` datasets
``float32`` ``(B, L, L, L, 1)`` occupancy batches in ``{0, 1}`` (stored
``uint8``; :func:`voxel_arrays` gives a split's grids and labels), and ``ages``
datasets ``(images, ages)`` batches: faces ``(B, S, S, 3)`` in ``[-1, 1]`` and
``float32`` one-hot age groups ``(B, 6)`` (:mod:`gancourse.data.ages`), and
``captions`` datasets ``(lr, hr, embedding, class_id)`` batches for text-to-image
models (:mod:`gancourse.data.captioned`): a Stage-II image, its Stage-I copy, a
mean of caption embeddings ``(B, 1024)`` and a class id. A model
never needs to know how a dataset is stored; :func:`load` picks the entry by
the name a config carries (``cfg.dataset``).

====================== ======== ======= ========== ==========================================================
name                   kind     offline stored     what
====================== ======== ======= ========== ==========================================================
digits                 images   yes     in memory  scikit-learn's 1,797 8x8 digits, upsampled (smoke profile)
mnist                  images   no      in memory  MNIST, 70,000 28x28 digits (``keras.datasets``)
fashion_mnist          images   no      in memory  Fashion-MNIST, 70,000 28x28 clothes (``keras.datasets``)
faces                  images   no      streamed   a folder of face images you provide (CelebA, anime faces)
facades                pairs    no      streamed   CMP Facades, label map -> photo, 400/100/106 pairs
maps                   pairs    no      streamed   Google Maps tiles -> aerial photos
edges2shoes            pairs    no      streamed   edge maps -> shoe photos (UT Zappos50K)
edges2handbags         pairs    no      streamed   edge maps -> handbag photos (Amazon, about 137,000)
cityscapes             pairs    no      streamed   Cityscapes label maps -> street photos
night2day              pairs    no      streamed   webcam scenes at night -> the same scenes by day
offline                pairs    yes     in memory  label maps -> photo crops cut from scikit-image's photos
monet2photo            unpaired no      streamed   Monet paintings / landscape photos, 1,072 / 6,287 train
horse2zebra            unpaired no      streamed   horses / zebras (ImageNet)
summer2winter_yosemite unpaired no      streamed   Yosemite in summer / in winter (Flickr)
apple2orange           unpaired no      streamed   apples / oranges (ImageNet)
vangogh2photo          unpaired no      streamed   Van Gogh paintings / landscape photos
cezanne2photo          unpaired no      streamed   Cezanne paintings / landscape photos
ukiyoe2photo           unpaired no      streamed   ukiyo-e prints / landscape photos
offline_unpaired       unpaired yes     in memory  photo crops / other photo halves through a fixed painting
celeba                 superres no      streamed   CelebA aligned faces (manual download), 178 px squares -> HR, x4 LR
sr_folder              superres no      streamed   a folder of photos you provide (DIV2K, your own) -> HR, x4 LR
offline_sr             superres yes     in memory  HR crops of photos the dependencies ship, x4 LR; held-out test photos
shapenet               voxels   no      in memory  3D ShapeNets: a ModelNet40 category, 30^3 grids padded to 32^3 (64^3)
offline_shapes         voxels   yes     in memory  procedural chairs, tables, airplanes and lamps; 600 / 150 shapes
wiki                   ages     no      streamed   IMDB-WIKI wiki_crop faces with ages (academic use only), cleaned
offline_faces          ages     yes     in memory  rendered faces, known identity and age group; 2,880 / 360 faces
cub                    captions no      streamed   CUB-200-2011 birds, StackGAN caption embeddings; 8,855 / 2,933
offline_birds          captions yes     in memory  rendered birds, known attributes, 10 template captions; 1,440 / 288
====================== ======== ======= ========== ==========================================================

The pix2pix and CycleGAN datasets are downloaded on first use into the cache (see
:mod:`gancourse.data.cache`) unless ``data_dir`` holds them; MNIST and
Fashion-MNIST are downloaded by Keras; CelebA is downloaded by hand (its
loader's error says where); the 3D ShapeNets archive is downloaded into the
cache on first use unless ``data_dir`` holds it (academic use only), and so is
IMDB-WIKI's ``wiki_crop.tar`` (academic research use only), and so is
CUB-200-2011's archive (MD5-checked), while StackGAN's caption embeddings
(``birds.zip``) are downloaded by hand (the ``cub`` loader's error says where). Streamed datasets decode their files
inside ``tf.data`` after checking every file's header up front, and are cached
decoded only when they fit :data:`gancourse.data.pipeline.CACHE_BUDGET_BYTES`.

* :mod:`gancourse.data.digits` - offline digits shipped by scikit-learn.
* :mod:`gancourse.data.keras_datasets` - MNIST and Fashion-MNIST through ``keras.datasets``.
* :mod:`gancourse.data.faces` - folders of face images and cascade face cropping.
* :mod:`gancourse.data.paired` - the pix2pix datasets and offline pairs.
* :mod:`gancourse.data.unpaired` - the CycleGAN datasets, the unaligned loader, offline unpaired data.
* :mod:`gancourse.data.superres` - super-resolution pairs: CelebA, image folders, offline crops, Set5/Set14/BSD100.
* :mod:`gancourse.data.voxels` - voxel grids: 3D ShapeNets ``.mat`` files and offline procedural shapes.
* :mod:`gancourse.data.wiki` - IMDB-WIKI's Wikipedia faces with ages from MATLAB dates, cleaned and streamed.
* :mod:`gancourse.data.rendered_faces` - procedural faces whose identity and age group are known.
* :mod:`gancourse.data.cub` - CUB-200-2011 photos cropped to their birds, with StackGAN's caption embeddings.
* :mod:`gancourse.data.captioned` - the ``captions`` batch format shared by text-to-image datasets.
* :mod:`gancourse.data.safe_pickle` - loading data pickles with an unpickler that cannot run code.
* :mod:`gancourse.data.rendered_birds` - procedural birds with known attributes and template captions.
* :mod:`gancourse.data.ages` - the six age groups of Age-cGAN and their one-hot encoding.
* :mod:`gancourse.data.files` - listing image files and checking them before streaming.
* :mod:`gancourse.data.pipeline` - ``tf.data`` pipelines over arrays and over files.
* :mod:`gancourse.data.cache` - the download/cache helper and safe archive extraction.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

from gancourse.data import (cub, digits, faces, keras_datasets, paired, rendered_birds, rendered_faces, superres,
                            voxels, wiki)
from gancourse.data.cache import DatasetError
from gancourse.data.voxels import voxel_arrays

__all__ = ["AGE_DATASETS", "CAPTION_DATASETS", "DATASETS", "PAIRED_DATASETS", "REGISTRY", "SUPERRES_DATASETS",
           "UNPAIRED_DATASETS", "DatasetError", "DatasetSpec", "VOXEL_DATASETS", "arrays", "get", "load",
           "voxel_arrays"]


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """One dataset of the registry.

    Attributes:
        name: the name configs use (``cfg.dataset``).
        kind: ``"images"`` (batches ``(B, H, W, C)``), ``"pairs"``
            (batches ``(input, target)``, each ``(B, H, W, C)``),
            ``"unpaired"`` (batches ``(a, b)`` of two unrelated domains),
            ``"superres"`` (batches ``(lr, hr)``: ``(B, H/s, W/s, 3)`` and ``(B, H, W, 3)``),
            ``"voxels"`` (``float32`` occupancy batches ``(B, L, L, L, 1)`` in ``{0, 1}``, stored ``uint8``) or
            ``"ages"`` (batches ``(images, ages)``: ``(B, S, S, 3)`` and one-hot ``(B, 6)``) or
            ``"captions"`` (batches ``(lr, hr, embedding, class_id)``, see :mod:`gancourse.data.captioned`).
        offline: needs no network and no files of yours.
        splits: the split names :meth:`load` accepts.
        description: one line: what the data is.
        streamed: decoded from files inside ``tf.data`` (``False``: held in memory).
        loader: ``(split, cfg, data_dir, shuffle) -> tf.data.Dataset``; call :meth:`load`.
    """

    name: str
    kind: str
    offline: bool
    splits: tuple[str, ...]
    description: str
    streamed: bool
    loader: Callable = dataclasses.field(repr=False, compare=False)

    def check_split(self, split: str) -> str:
        """``split``, or ``ValueError`` naming this dataset's splits."""
        if split not in self.splits:
            raise ValueError(f"unknown split {split!r} for {self.name}; choose one of {', '.join(self.splits)}")
        return split

    def load(self, split: str, cfg, data_dir=None, *, shuffle: bool = True):
        """The batched ``tf.data.Dataset`` of ``split``, values in ``[-1, 1]`` (voxels: ``{0, 1}``).

        Args:
            split: one of :attr:`splits`.
            cfg: any object with ``image_size``, ``channels``, ``batch_size``
                and ``seed`` (and, for pairs and unpaired data, optionally ``jitter``;
                unpaired data also ``flip``; super-resolution data: ``image_size``
                is the HR size, optionally ``scale``, ``random_crop`` and ``flip``,
                and ``channels`` may be absent; voxel data reads ``cube_len``,
                ``batch_size``, ``seed`` and ``category`` (``shapenet``) or
                ``classes`` (``offline_shapes``) instead; age data reads
                ``image_size``, ``batch_size``, ``seed`` and, for ``wiki``,
                optionally ``min_face_score``; caption data reads ``image_size``
                (the Stage-I side; Stage-II images are 4 times larger),
                ``batch_size``, ``seed`` and optionally ``captions_per_step``
                (default 1), ``flip`` and, for ``cub``, ``jitter``).
            data_dir: the image folder (``faces``, ``sr_folder``), CelebA's zip or
                its folder (``celeba``), or a folder holding
                ``<name>/{train,val,test}`` (pix2pix datasets) or
                ``<name>/{trainA,trainB,testA,testB}`` (CycleGAN datasets), or the
                3D ShapeNets data (``shapenet``: the archive, its ``volumetric_data``
                folder or a folder above it), the folder holding ``wiki_crop/``
                or ``wiki_crop/`` itself (``wiki``), the folder holding StackGAN's
                ``birds/`` (unzipped ``birds.zip``, optionally with ``CUB_200_2011/``
                inside) or ``birds/`` itself (``cub``),
                instead of the download cache; the other datasets read no folder
                and refuse it.
            shuffle: reshuffle every epoch, reproducibly with ``cfg.seed``.

        Raises:
            ValueError: unknown split, a batch size larger than the split, or a
                ``data_dir`` for a dataset that reads no folder.
            DatasetError: the data is missing, incomplete or has a broken file
                (checked before the dataset is returned).
        """
        if data_dir is not None and not self.reads_folder:
            raise ValueError(f"the {self.name} dataset reads no folder ({self.description}); "
                             f"do not pass data_dir (--data {data_dir})")
        return self.loader(self.check_split(split), cfg, data_dir, shuffle)

    @property
    def reads_folder(self) -> bool:
        """Whether ``data_dir`` can point at this dataset's files: the streamed datasets and ``shapenet``
        (read into memory as ``uint8`` grids)."""
        return self.streamed or (self.kind == "voxels" and not self.offline)


def _face_folder(data_dir):
    if data_dir is None:
        raise DatasetError("the faces dataset is a folder you provide (see gancourse.data.faces for sources "
                           "and licences); pass data_dir=... (CLI: --data DIR)")
    return data_dir


def _digits(split, cfg, data_dir, shuffle):
    return digits.load(split, cfg, shuffle=shuffle)


def _keras(name, split, cfg, data_dir, shuffle):
    return keras_datasets.load(name, split, cfg, shuffle=shuffle)


def _faces(split, cfg, data_dir, shuffle):
    return faces.load(_face_folder(data_dir), cfg, shuffle=shuffle)


def _pix2pix(name, split, cfg, data_dir, shuffle):
    return paired.pix2pix_dataset(name, split, cfg, data_dir, shuffle=shuffle)


def _offline_pairs(split, cfg, data_dir, shuffle):
    return paired.offline_dataset(split, cfg, shuffle=shuffle)


def _cyclegan(name, split, cfg, data_dir, shuffle):
    return unpaired.unpaired_dataset(name, split, cfg, data_dir, shuffle=shuffle)


def _offline_unpaired(split, cfg, data_dir, shuffle):
    return unpaired.offline_dataset(split, cfg, shuffle=shuffle)


def _superres(name, split, cfg, data_dir, shuffle):
    return superres.superres_dataset(name, split, cfg, data_dir, shuffle=shuffle)


def _shapenet(split, cfg, data_dir, shuffle):
    return voxels.shapenet_dataset(split, cfg, data_dir, shuffle=shuffle)


def _offline_shapes(split, cfg, data_dir, shuffle):
    return voxels.offline_dataset(split, cfg, shuffle=shuffle)


def _wiki(split, cfg, data_dir, shuffle):
    return wiki.wiki_dataset(split, cfg, data_dir, shuffle=shuffle)


def _cub(split, cfg, data_dir, shuffle):
    return cub.cub_dataset(split, cfg, data_dir, shuffle=shuffle)


def _offline_faces(split, cfg, data_dir, shuffle):
    return rendered_faces.offline_dataset(split, cfg, shuffle=shuffle)


def _offline_birds(split, cfg, data_dir, shuffle):
    return rendered_birds.offline_dataset(split, cfg, shuffle=shuffle)


def _cyclegan_spec(name: str, description: str) -> DatasetSpec:
    return DatasetSpec(name, "unpaired", False, unpaired.SPLITS, description, True,
                       functools.partial(_cyclegan, name))


def _pix2pix_spec(name: str, description: str) -> DatasetSpec:
    return DatasetSpec(name, "pairs", False, paired.SPLITS, description, True, functools.partial(_pix2pix, name))


REGISTRY: dict[str, DatasetSpec] = {spec.name: spec for spec in (
    DatasetSpec("digits", "images", True, digits.SPLITS,
                "scikit-learn's 1,797 handwritten 8x8 digits, upsampled; 1,497 train / 300 test", False, _digits),
    DatasetSpec("mnist", "images", False, keras_datasets.SPLITS,
                "MNIST handwritten digits, 60,000 train / 10,000 test, 28x28 grey (keras.datasets)", False,
                functools.partial(_keras, "mnist")),
    DatasetSpec("fashion_mnist", "images", False, keras_datasets.SPLITS,
                "Fashion-MNIST clothes, 60,000 train / 10,000 test, 28x28 grey (keras.datasets)", False,
                functools.partial(_keras, "fashion_mnist")),
    DatasetSpec("faces", "images", False, ("train",),
                "a folder of face images you provide (e.g. CelebA, licensed anime faces), central squares",
                True, _faces),
    _pix2pix_spec("facades", "CMP Facades: label map -> building photo, 400 / 100 / 106 pairs"),
    _pix2pix_spec("maps", "Google Maps: map tile -> aerial photo"),
    _pix2pix_spec("edges2shoes", "edge map -> shoe photo (UT Zappos50K)"),
    _pix2pix_spec("edges2handbags", "edge map -> handbag photo (Amazon handbags)"),
    _pix2pix_spec("cityscapes", "Cityscapes: semantic label map -> street photo"),
    _pix2pix_spec("night2day", "webcam scene at night -> the same scene by day"),
    DatasetSpec("offline", "pairs", True, ("train", "test"),
                "label maps -> photo crops cut from scikit-image's photos (test: a held-out photo)", False,
                _offline_pairs),
    _cyclegan_spec("monet2photo", "Monet paintings (A) / landscape photos (B), 1,072 / 6,287 train, 121 / 751 test"),
    _cyclegan_spec("horse2zebra", "horse photos (A) / zebra photos (B) from ImageNet"),
    _cyclegan_spec("summer2winter_yosemite", "Yosemite photos in summer (A) / in winter (B) from Flickr"),
    _cyclegan_spec("apple2orange", "apple photos (A) / orange photos (B) from ImageNet"),
    _cyclegan_spec("vangogh2photo", "Van Gogh paintings (A) / landscape photos (B)"),
    _cyclegan_spec("cezanne2photo", "Cezanne paintings (A) / landscape photos (B)"),
    _cyclegan_spec("ukiyoe2photo", "ukiyo-e prints (A) / landscape photos (B)"),
    DatasetSpec("offline_unpaired", "unpaired", True, unpaired.SPLITS,
                "photo crops (A) / crops of other photo halves through a fixed painting (B); test keeps the truth",
                False, _offline_unpaired),
    DatasetSpec("celeba", "superres", False, superres.CELEBA_SPLITS,
                "CelebA aligned faces (img_align_celeba.zip, manual download): 178 px central squares -> HR, "
                "x4 bicubic LR; official partition", True, functools.partial(_superres, "celeba")),
    DatasetSpec("sr_folder", "superres", False, superres.FOLDER_SPLITS,
                "a folder of photos you provide (DIV2K, your own) -> HR, x4 bicubic LR; 1 in 10 held out by name",
                True, functools.partial(_superres, "sr_folder")),
    DatasetSpec("offline_sr", "superres", True, superres.OFFLINE_SPLITS,
                "HR crops of photos scikit-image, scikit-learn and Matplotlib ship, x4 bicubic LR "
                "(test: held-out photos)", False, functools.partial(_superres, "offline_sr")),
    DatasetSpec("shapenet", "voxels", False, voxels.SPLITS,
                "3D ShapeNets volumes (3DShapeNetsCode.zip, academic use only) of one ModelNet40 category "
                "(cfg.category), 30^3 padded to 32^3, zoomed to 64^3", False, _shapenet),
    DatasetSpec("offline_shapes", "voxels", True, voxels.SPLITS,
                "procedural chairs, tables, airplanes and lamps voxelised at 16^3, 32^3 or 64^3; "
                "600 train / 150 test", False, _offline_shapes),
    DatasetSpec("wiki", "ages", False, wiki.SPLITS,
                "IMDB-WIKI wiki_crop faces (academic research use only) with ages from wiki.mat, cleaned "
                "(no face, second face, invalid ages dropped); 1 in 20 held out by a hash of the path", True, _wiki),
    DatasetSpec("offline_faces", "ages", True, rendered_faces.SPLITS,
                "procedurally rendered faces whose identity and age group are known; 240 identities x 6 ages x 2 "
                "(train) / 60 other identities x 6 ages (test)", False, _offline_faces),
    DatasetSpec("cub", "captions", False, cub.SPLITS,
                "CUB-200-2011 bird photos cropped around their boxes (CaltechDATA archive, MD5-checked) with "
                "StackGAN's char-CNN-RNN caption embeddings (birds.zip, manual download); 8,855 train / 2,933 test "
                "images of 150 / 50 disjoint species", True, _cub),
    DatasetSpec("offline_birds", "captions", True, rendered_birds.SPLITS,
                "procedurally rendered birds (body/wing colour, size, pose, background known) with 10 template "
                "captions each; 30 colour pairs x 48 (train) / 6 held-out colour pairs x 48 (test)", False,
                _offline_birds),
)}

DATASETS = tuple(name for name, spec in REGISTRY.items() if spec.kind == "images")
PAIRED_DATASETS = tuple(name for name, spec in REGISTRY.items() if spec.kind == "pairs")
UNPAIRED_DATASETS = tuple(name for name, spec in REGISTRY.items() if spec.kind == "unpaired")
SUPERRES_DATASETS = tuple(name for name, spec in REGISTRY.items() if spec.kind == "superres")
VOXEL_DATASETS = tuple(name for name, spec in REGISTRY.items() if spec.kind == "voxels")
AGE_DATASETS = tuple(name for name, spec in REGISTRY.items() if spec.kind == "ages")
CAPTION_DATASETS = tuple(name for name, spec in REGISTRY.items() if spec.kind == "captions")


def get(name: str) -> DatasetSpec:
    """The registry entry ``name``; ``ValueError`` listing the names when there is none."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(REGISTRY)}") from None


def arrays(name: str, split: str = "train", *, image_size: int, channels: int, data_dir=None):
    """``(images, labels)`` of an image dataset as arrays: images ``float32``
    ``(N, image_size, image_size, channels)`` in ``[-1, 1]``, labels ``(N,)``
    ``int32`` or ``None`` (faces). For evaluation and small data: a whole split
    in memory. Paired datasets: :func:`gancourse.data.paired.load_pix2pix`."""
    spec = get(name)
    if spec.kind == "voxels":
        raise ValueError(f"{name} is a voxel dataset; read its uint8 grids and labels with "
                         "gancourse.data.voxel_arrays")
    if spec.kind == "superres":
        raise ValueError(f"{name} is a super-resolution dataset; read its (lr, hr) arrays with "
                         "gancourse.data.superres.load_pairs or offline_sr")
    if spec.kind == "ages":
        raise ValueError(f"{name} is an age dataset of (image, age) pairs; read its arrays with "
                         "gancourse.data.wiki.wiki_arrays (wiki) or gancourse.data.rendered_faces.offline_faces "
                         "(offline_faces)")
    if spec.kind == "captions":
        raise ValueError(f"{name} is a caption dataset of (lr, hr, embedding, class_id) batches; iterate "
                         "gancourse.data.get(name).load(...) (the arrays: gancourse.data.rendered_birds.offline_birds; "
                         "cub's keys, embeddings and boxes: gancourse.data.cub.read_split)")
    if spec.kind == "unpaired":
        raise ValueError(f"{name} is an unpaired dataset; read its arrays with "
                         "gancourse.data.unpaired.load_unpaired or offline_unpaired")
    if spec.kind != "images":
        raise ValueError(f"{name} is a paired dataset; read its arrays with gancourse.data.paired.load_pix2pix "
                         "or offline_pairs")
    spec.check_split(split)
    if name == "digits":
        return digits.arrays(split, image_size, channels)
    if name == "faces":
        return faces.arrays(_face_folder(data_dir), image_size, channels), None
    return keras_datasets.arrays(name, split, image_size, channels)


def load(cfg, split: str = "train", *, data_dir=None, shuffle: bool = True):
    """The batched ``tf.data.Dataset`` of ``cfg.dataset`` (see :meth:`DatasetSpec.load`)."""
    return get(cfg.dataset).load(split, cfg, data_dir, shuffle=shuffle)
