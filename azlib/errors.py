"""Errors a user can fix. Each message names the file or setting at fault and says what to do.

The command line (:mod:`azlib.cli`) prints an :class:`AzlibError` as one line on stderr and
exits with status 2, without a traceback (``--debug`` or ``AZLIB_DEBUG=1`` shows it); any other
exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class AzlibError(Exception):
    """Base of the errors caused by input, settings or data, not by a bug."""


class ConfigError(AzlibError, ValueError):
    """A bad configuration value (profile key, --set override, command-line option)."""


class DataError(AzlibError):
    """A dataset that cannot be used as given: missing split file or class, bad videos, ..."""


class VideoError(DataError):
    """One video that cannot be used (missing, damaged, wrong codec, too short)."""


class WeightsMissingError(AzlibError, FileNotFoundError):
    """Pretrained weights are not on disk; the message says where to put them."""
