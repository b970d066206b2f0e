"""Models of paper §3.2: θ and the sampler (``zoom``), LNets, clip backbones, AdaptiveZoom, cost.

The submodules are the API (``from azlib.models import zoom; zoom.zoom(clip, theta, size)``);
the main builders are re-exported here. The function ``zoom.zoom`` is not, so that
``azlib.models.zoom`` stays the module.
"""

from azlib.models.az import AdaptiveZoom, FixedCrop, build_model
from azlib.models.backbones import BACKBONES, backbone_stats, build_backbone
from azlib.models.lnet import WeightsMissingError, build_lnet
from azlib.models.zoom import THETA_MODES

__all__ = ["AdaptiveZoom", "FixedCrop", "build_model", "BACKBONES", "backbone_stats",
           "build_backbone", "WeightsMissingError", "build_lnet", "THETA_MODES"]
