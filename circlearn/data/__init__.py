"""YouTube-8M data: TFRecord I/O, schemas, datasets and loaders, frame sampling, synthetic data."""
