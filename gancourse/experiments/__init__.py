"""The chapters' studies, ablations and exhibits: code that uses the models, kept out of the model modules.

* :mod:`gancourse.experiments.ch01` - the stabilisation study on the ring of Gaussians.
* :mod:`gancourse.experiments.ch02` - the cost of 3-D convolutions, the 3D-GAN's feature-classification test
  and the book's defects.
* :mod:`gancourse.experiments.ch03` - Age-cGAN on rendered faces: age accuracy, identity preservation by latent
  optimisation, the encoder's overfitting, the book's fine-tuning and defects.
* :mod:`gancourse.experiments.ch04` - the DCGAN presets compared on the same data.
* :mod:`gancourse.experiments.ch06` - StackGAN on rendered birds: text-image consistency, FID/IS per stage,
  the CA ablation, typed captions and the book's defects.
* :mod:`gancourse.experiments.ch08` - the pix2pix objective ablation and the book's batch-1 defects.
"""


def error_of(fn, first_line: bool = False) -> str:
    """``"<ExceptionType>: <message>"`` of what ``fn()`` raises, or ``""`` when it runs: how the chapters show
    a source's code failing under today's libraries. ``first_line`` keeps the message's first line only."""
    try:
        fn()
    except Exception as error:  # noqa: BLE001 - an exhibit reports whichever error the code raises
        message = str(error).splitlines()[0] if first_line and str(error) else str(error)
        return f"{type(error).__name__}: {message}"
    return ""

