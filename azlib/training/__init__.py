"""Training and evaluation of one run, in the order a run goes: ``distributed`` (processes under
torchrun), ``state`` (seeds, RNG state, checkpoints), ``fit`` (the training loop), ``evaluate``
(multi-clip testing, crop variants, oracle crops) and ``run`` (one run end to end, its record)."""
