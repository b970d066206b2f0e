"""azlib: adaptive zooming with compressed-domain motion residuals for action recognition.

A reproduction of Shahabinejad et al., "Video Action Recognition with Adaptive Zooming Using
Motion Residuals". Each stage of the pipeline is one module (see README, "Architecture").
"""

__version__ = "0.1.0"
