"""YouTube-8M data: TFRecord I/O, schemas, datasets and loaders, frame sampling, synthetic data.

Modules: ``tfrecord`` (framing, CRC-32C), ``protowire`` (Example/SequenceExample wire format),
``yt8m`` (schemas, readers/writers, (de)quantisation), ``files`` (patterns, record indexes),
``datasets`` (sharded, resumable loaders), ``batch`` (the batch format and its model inputs),
``frames`` (frame preparation and sampling, shared by the loaders and the models; it loads
torch, the record readers do not), ``augmentation`` (half videos), ``synth`` (synthetic
YouTube-8M, presets and the dataset cache; its generative models in ``synth_models``),
``samples`` (the bundled ``data_samples/``), ``inspect`` and ``cli`` (``circlearn data``).
"""

from .tfrecord import CorruptRecordError, read_records, write_records
from .yt8m import (
                   VideoExample,
                   dequantize,
                   quantize,
                   read_frame_examples,
                   read_video_examples,
                   write_frame_examples,
                   write_video_examples,
)

__all__ = ["CorruptRecordError", "read_records", "write_records", "VideoExample", "dequantize",
           "quantize", "read_frame_examples", "read_video_examples", "write_frame_examples",
           "write_video_examples"]
