"""The paper's video models: configuration, presets, parameter counts.

Contract (used by training, experiments, the CLI and notebooks)::

    from circlearn.models import (VideoClassifier, ModelConfig, from_preset, PRESETS,
                                  count_parameters)

    model = from_preset("dbof-fc-circulant", cluster_sizes=(256, 128), num_classes=100)
    probs = model(frames, num_frames)          # frame level: (B, T, D) uint8|float, (B,) → (B, V)
    probs = model(features)                    # video level ("logistic", "moe"): (B, D) → (B, V)
    loss = bce_on_probabilities + model.regularization_loss()
    model.size_report()                        # per-component parameters, fp32/fp16 bytes

- ``frames`` are dequantized inside when ``uint8`` (``q·4/255 − 1.9921875``), padding frames
  (index ≥ ``num_frames``) are zeroed, each frame's joint vector (all ``feature_names``
  concatenated) is L2-normalized, then split into streams by ``feature_sizes`` in order
  (rgb 1024, audio 128 by default).
- Outputs are **probabilities** in (0, 1), not logits (the paper's loss acts on probabilities).
- Training mode samples ``iterations`` frames with replacement per bag, ``n_bagging`` bags,
  and averages the pooled embeddings before the FC; pass ``generator=`` for reproducible
  draws. Evaluation mode is deterministic: ``eval_sampling="random"`` (the paper's sampler;
  reseeding it with ``eval_seed`` at every call unless a generator is passed is circlearn's
  deterministic choice, the paper's evaluation was in effect unseeded, ``paper.md`` §3.7);
  ``"all"`` pools every real frame once.
- ``regularization_loss()`` is the dense classifier's ``l2 · ½‖W‖²`` (1e-8, ``moe_l2``).
- ``from_preset(name, **overrides)``: unknown preset or field → ``ValueError`` naming it and
  listing valid names. ``device="meta"`` counts parameters without allocating.
"""

from circlearn.models.config import CLASSIFIERS, LAYER_KINDS, POOLINGS, ModelConfig
from circlearn.models.presets import PRESETS, from_preset, preset_config
from circlearn.models.size import count_parameters, size_report
from circlearn.models.video import VideoClassifier

__all__ = [
    "VideoClassifier",
    "ModelConfig",
    "from_preset",
    "preset_config",
    "PRESETS",
    "count_parameters",
    "size_report",
    "LAYER_KINDS",
    "POOLINGS",
    "CLASSIFIERS",
]
