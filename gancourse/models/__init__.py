"""One module per chapter model; each follows the model-module contract:

``config(name)`` -> a validated preset, ``cfg.scaled(profile)``, a
``keras.Model`` subclass built from the config, ``PRESETS``.
"""
