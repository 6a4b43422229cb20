"""The batch the loaders yield, and its conversion to model inputs on the device.

:class:`Batch` fields (``B`` videos, ``C`` classes, ``D`` = sum of the feature sizes, streams
concatenated in ``feature_names`` order, e.g. rgb 1024 then audio 128):

* ``ids``: ``list[str]`` of length ``B``;
* ``labels``: ``float32 (B, C)``, dense 0/1;
* frame level: ``frames``: ``uint8 (B, T, D)`` quantised features, zero bytes after each
  video's ``num_frames`` (``T = max_frames``, or ``max_frames // 2`` with half-video
  augmentation, or ``n_bags * iterations`` when the loader samples frames);
  ``num_frames``: ``int64 (B,)``; ``features`` is ``None``;
* video level: ``features``: ``float32 (B, D)`` (already dequantised means, as stored);
  ``frames`` and ``num_frames`` are ``None``.

Keep ``frames`` as ``uint8`` until the device (4× less traffic), then call
:meth:`Batch.inputs`: dequantise, zero the padded frames, L2-normalise each frame's
concatenated vector (``x / sqrt(max(‖x‖², 1e-12))``, TensorFlow's ``l2_normalize``), the
starter code's input convention (``yt8m.md`` §1.7), implemented once in
:func:`circlearn.data.frames.prepare_frames`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from circlearn.nn.blocks import l2_normalize

from .frames import prepare_frames

__all__ = ["Batch", "frames_to_inputs"]


def frames_to_inputs(frames: torch.Tensor, num_frames: torch.Tensor,
                     normalize: bool = True) -> torch.Tensor:
    """``uint8 (B, T, D)`` frames → float ``(B, T, D)``: dequantised, padding zeroed,
    each frame L2-normalised when ``normalize``."""
    t = frames.shape[1]
    valid = torch.arange(t, device=frames.device).view(1, t) < num_frames.to(frames.device).view(-1, 1)
    return prepare_frames(frames, valid, normalize=normalize)  # (B, T, D)


@dataclass
class Batch:
    """A batch of videos (see the module docstring for shapes and dtypes)."""

    ids: list[str]
    labels: torch.Tensor
    frames: torch.Tensor | None = None
    num_frames: torch.Tensor | None = None
    features: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def _map(self, fn) -> Batch:
        return replace(self, **{k: (fn(getattr(self, k)) if getattr(self, k) is not None else None)
                                for k in ("labels", "frames", "num_frames", "features")})

    def to(self, device, non_blocking: bool = False) -> Batch:
        """Move every tensor to ``device`` (dtypes unchanged, frames stay ``uint8``)."""
        return self._map(lambda t: t.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> Batch:
        """Page-locked copy (``DataLoader(pin_memory=True)`` calls this)."""
        return self._map(lambda t: t.pin_memory())

    def inputs(self, device=None, normalize: bool = True) -> torch.Tensor:
        """Model inputs on ``device``: float ``(B, T, D)`` frames or ``(B, D)`` features."""
        if self.frames is not None:
            frames = self.frames.to(device) if device is not None else self.frames
            return frames_to_inputs(frames, self.num_frames, normalize)
        x = self.features.to(device) if device is not None else self.features
        x = x.to(torch.get_default_dtype())
        return l2_normalize(x) if normalize else x
