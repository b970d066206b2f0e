"""Typed settings: frozen dataclasses parsed from YAML mappings, with one message per mistake.

Each section of a profile is a frozen dataclass whose defaults are the only defaults of that
section. :func:`parse` builds one from a mapping: an unknown key (with the closest known key
suggested), a value of the wrong type or a value outside a ``Literal`` choice stops with a
:class:`~azlib.errors.ConfigError` naming the key. A field made with :func:`execution` says *how*
to run (worker counts, folders): it is recorded but :func:`result_dict`, which gives what a
result is keyed by, leaves it out. A field made with :func:`added` decides results but was added
after results were recorded: :func:`result_dict` leaves it out while it holds its default (which
is how the older runs were made), so adding it keeps every older key.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any, Literal, Mapping, Union

from azlib.errors import ConfigError

EXECUTION = "execution"
ADDED = "added"


def execution(default=dataclasses.MISSING, *, default_factory=dataclasses.MISSING):
    """A field that says how to run, never what: not part of any key."""
    return dataclasses.field(default=default, default_factory=default_factory,
                             metadata={EXECUTION: True})


def is_execution(field: dataclasses.Field) -> bool:
    return bool(field.metadata.get(EXECUTION))


def added(default):
    """A result-deciding field added after records were made with ``default`` behaviour: keyed
    only when it differs from ``default``."""
    return dataclasses.field(default=default, metadata={ADDED: True})


def _describe(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(annotation))
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return "null"
    if origin is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_describe(args[0])}"
        return f"a list of {len(args)} ({', '.join(_describe(a) for a in args)})"
    if origin is dict:
        return "a mapping"
    if dataclasses.is_dataclass(annotation):
        return "a mapping"
    return getattr(annotation, "__name__", str(annotation))


def _coerce(value: Any, annotation, where: str):
    """``value`` as ``annotation`` says (lists become tuples, ints become floats), or ConfigError."""
    origin = typing.get_origin(annotation)
    wrong = ConfigError(f"{where}: expected {_describe(annotation)}, got {value!r}")
    if annotation is Any:
        return value
    if dataclasses.is_dataclass(annotation):
        return parse(annotation, value, where)
    if origin in (Union, types.UnionType):
        args = typing.get_args(annotation)
        if value is None:
            if type(None) in args:
                return None
            raise wrong
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError:
                continue
        raise wrong
    if origin is Literal:
        if value in typing.get_args(annotation) and not isinstance(value, bool):
            return value
        raise wrong
    if origin is tuple:
        args = typing.get_args(annotation)
        if not isinstance(value, (list, tuple)):
            raise wrong
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise wrong
        return tuple(_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if origin is dict:
        key_type, value_type = typing.get_args(annotation)
        if not isinstance(value, Mapping):
            raise wrong
        return {_coerce(k, key_type, where): _coerce(v, value_type, f"{where}.{k}") for k, v in value.items()}
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise wrong
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise wrong
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise wrong
    if annotation is str:
        if isinstance(value, str):
            return value
        raise wrong
    raise TypeError(f"{where}: unsupported annotation {annotation!r}")


def parse(cls, data: Mapping | None, where: str = ""):
    """An instance of dataclass ``cls`` from ``data`` (missing keys take their defaults); ``where``
    names the section in messages ("" at the top level)."""
    if data is None:
        data = {}
    if dataclasses.is_dataclass(data) and isinstance(data, cls):
        return data
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or 'settings'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls) if f.init]
    name = (lambda key: f"{where}.{key}") if where else str
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {name(close[0])}?)" if close else ""
            raise ConfigError(f"{name(key)}: unknown setting{hint}; the settings{' of ' + where if where else ''} "
                              f"are {', '.join(known)}")
    values = {key: _coerce(value, hints[key], name(key)) for key, value in data.items()}
    try:
        return cls(**values)
    except TypeError as error:  # a field without default is missing
        raise ConfigError(f"{where or 'settings'}: {error}") from None


def replace(obj, where: str, **changes):
    """``dataclasses.replace`` with the changes parsed (and so checked) like :func:`parse`."""
    merged = {**{f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.init}, **changes}
    return parse(type(obj), {k: _plain(v) for k, v in merged.items()}, where)


def _plain(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def to_dict(obj) -> dict:
    """Every setting of ``obj`` as plain JSON values (lists for tuples), execution ones too."""
    return _plain(obj)


def result_dict(obj) -> dict:
    """The settings of ``obj`` that decide a result (execution fields left out), as JSON values."""
    out = {}
    for f in dataclasses.fields(obj):
        if not f.init or is_execution(f):
            continue
        value = getattr(obj, f.name)
        if f.metadata.get(ADDED) and value == f.default:
            continue
        out[f.name] = result_dict(value) if dataclasses.is_dataclass(value) else _plain(value)
    return out


def flat_text(nested: Mapping, prefix: str = "") -> str:
    """``{'train': {'lnet_lr_mult': 1.0}}`` -> ``'train.lnet_lr_mult=1.0'`` (space-separated)."""
    parts = []
    for key, value in nested.items():
        if isinstance(value, Mapping):
            parts.append(flat_text(value, f"{prefix}{key}."))
        else:
            parts.append(f"{prefix}{key}={value}")
    return " ".join(p for p in parts if p)
