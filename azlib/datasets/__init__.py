"""Datasets, in the order data flows: ``splits`` (readers of the official split formats),
``synthetic`` (the SynthActions generator), ``check`` (every split file and video checked before
training, with a reusable manifest) and ``clips`` (clip sampling for training and testing)."""
