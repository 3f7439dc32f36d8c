"""``json.dumps(obj, indent=1)``, byte for byte, without the standard library's slow path.

With ``indent`` set, :mod:`json` falls back from its C encoder to a pure-Python generator that
yields one small string per token; for a 1-hour replay (half a million tokens) that is most of
the time spent writing the report. This writer produces the same text with one call per value:
scalars are encoded exactly as :mod:`json` encodes them (``float.__repr__``, ``NaN``/``Infinity``,
``encode_basestring_ascii``), containers with the same separators and indentation.
"""

from __future__ import annotations

import json
from json.encoder import c_make_encoder, encode_basestring_ascii
from typing import Any

__all__ = ["dumps_indent1"]

_INF = float("inf")


def _float(o: float) -> str:
    if o != o:
        return "NaN"
    if o == _INF:
        return "Infinity"
    if o == -_INF:
        return "-Infinity"
    return float.__repr__(o)


def _bool(o: bool) -> str:
    return "true" if o else "false"


def _none(o: None) -> str:
    return "null"


#: Encoders of the scalar types, by exact type (subclasses take the slow, general path).
_SCALARS = {
    str: encode_basestring_ascii,
    float: _float,
    int: int.__repr__,
    bool: _bool,
    type(None): _none,
}


#: Per indentation level: the C encoder of a flat container whose items sit at that level.
_FLAT: dict[int, Any] = {}


def _flat_encoder(level: int) -> Any:
    enc = _FLAT.get(level)
    if enc is None:
        sep = ",\n" + " " * level
        if c_make_encoder is not None:
            c_enc = c_make_encoder(None, None, encode_basestring_ascii, None, ": ", sep, False, False, True)

            def enc(o: Any, c_enc: Any = c_enc) -> str:
                return "".join(c_enc(o, 0))
        else:  # pragma: no cover - CPython always has _json
            enc = json.JSONEncoder(separators=(sep, ": ")).encode
        _FLAT[level] = enc
    return enc


def _key(k: Any) -> str:
    if isinstance(k, str):
        return encode_basestring_ascii(k)
    if isinstance(k, float):
        return encode_basestring_ascii(_float(k))
    if k is True or k is False or k is None:
        return encode_basestring_ascii(json.dumps(k))
    if isinstance(k, int):
        return encode_basestring_ascii(int.__repr__(k))
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(k).__name__}")


def _general(o: Any, level: int, out: list[str]) -> None:
    """Encode anything :mod:`json` accepts, in its order of type checks."""
    if isinstance(o, str):
        out.append(encode_basestring_ascii(o))
    elif o is None:
        out.append("null")
    elif o is True:
        out.append("true")
    elif o is False:
        out.append("false")
    elif isinstance(o, int):
        out.append(int.__repr__(o))
    elif isinstance(o, float):
        out.append(_float(o))
    elif isinstance(o, list | tuple):
        _array(o, level, out)
    elif isinstance(o, dict):
        _object(o, level, out)
    else:
        raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def _array(o: list | tuple, level: int, out: list[str]) -> None:
    if not o:
        out.append("[]")
        return
    scalars = _SCALARS
    inner = "\n" + " " * (level + 1)
    for v in o:
        if type(v) not in scalars:
            break
    else:  # only scalars: one call of the C encoder, then the indentation of the brackets
        out.append("[" + inner + _flat_encoder(level + 1)(o)[1:-1] + "\n" + " " * level + "]")
        return
    sep = "," + inner
    out.append("[" + inner)
    first = True
    for v in o:
        if not first:
            out.append(sep)
        first = False
        f = scalars.get(type(v))
        if f is not None:
            out.append(f(v))
        else:
            _general(v, level + 1, out)
    out.append("\n" + " " * level + "]")


def _object(o: dict, level: int, out: list[str]) -> None:
    if not o:
        out.append("{}")
        return
    scalars = _SCALARS
    inner = "\n" + " " * (level + 1)
    for k, v in o.items():
        if type(v) not in scalars or type(k) is not str:
            break
    else:  # only scalars under str keys: one call of the C encoder, then the braces' indentation
        out.append("{" + inner + _flat_encoder(level + 1)(o)[1:-1] + "\n" + " " * level + "}")
        return
    sep = "," + inner
    out.append("{" + inner)
    first = True
    for k, v in o.items():
        key = encode_basestring_ascii(k) if type(k) is str else _key(k)
        out.append(key + ": " if first else sep + key + ": ")
        first = False
        f = scalars.get(type(v))
        if f is not None:
            out.append(f(v))
        else:
            _general(v, level + 1, out)
    out.append("\n" + " " * level + "}")


def dumps_indent1(obj: Any) -> str:
    """Return ``json.dumps(obj, indent=1)``, the same text, faster.

    Parameters
    ----------
    obj : object
        Anything :func:`json.dumps` accepts with its default options (dicts with str, int,
        float, bool or None keys; lists, tuples, str, int, float, bool, None).

    Returns
    -------
    str
        The JSON text.

    Raises
    ------
    TypeError
        For an object :mod:`json` cannot encode either.
    ValueError
        For a container that contains itself (as :mod:`json` raises for a circular reference).
    """
    out: list[str] = []
    try:
        _general(obj, 0, out)
    except RecursionError as exc:
        raise ValueError("Circular reference detected") from exc
    return "".join(out)
