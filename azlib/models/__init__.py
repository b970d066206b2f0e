"""Models of paper §3.2, in the order a clip goes through them: ``zoom`` (θ parameterisations,
the grid generator and bilinear sampler, θ ↔ box), ``lnet`` (localisation networks),
``backbones`` (R3D-18, R(2+1)D-18, X3D), ``az`` (AdaptiveZoom and the fixed-crop baseline,
``build_model``) and ``cost`` (MACs and step times)."""
