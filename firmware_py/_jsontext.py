"""``json.dumps(obj, indent=1)``, byte for byte, without the standard library's slow path.

With ``indent`` set, :mod:`json` falls back from its C encoder to a pure-Python generator that
yields one small string per token; for a 1-hour replay (half a million tokens) that is most of
the time spent writing the report. This writer produces the same text with one call per value:
scalars are encoded exactly as :mod:`json` encodes them (``float.__repr__``, ``NaN``/``Infinity``,
``encode_basestring_ascii``), containers with the same separators and indentation.

A long array of flat objects (the replay's ``steps``) can be written column by column instead:
:func:`encode_column` encodes a column of values with one call of the C encoder, and
:func:`objects_text` lays the columns out as the array's text, which goes into the document as a
:class:`Raw` value.
"""

from __future__ import annotations

import json
from json.encoder import c_make_encoder, encode_basestring_ascii
from typing import Any

import numpy as np

__all__ = ["Raw", "dumps_indent1", "encode_column", "objects_text", "rounded_column"]

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


class Raw:
    """A value already encoded, as :func:`dumps_indent1` writes it at indentation ``level``.

    Parameters
    ----------
    text : str
        The value's text (for a container, its inner lines indented for ``level``).
    level : int
        The indentation level the text was made for: where :func:`dumps_indent1` meets it, the
        level must be the same (else ``ValueError``).
    """

    __slots__ = ("level", "text")

    def __init__(self, text: str, level: int) -> None:
        self.text = text
        self.level = level


#: Exact types whose text the C encoder writes without a newline (str escapes its own).
_LINE_TYPES = frozenset(_SCALARS)
_LINES: list[Any] = []


def encode_column(values: list[Any], level: int) -> list[str]:
    """Return the text of each value as :func:`dumps_indent1` writes it at indentation ``level``.

    A column of scalars (exact ``str``, ``int``, ``float``, ``bool``, ``None``) is encoded by one
    call of the C encoder with a newline between items (a scalar's text holds none: strings
    escape theirs), then split; any other column value by value, as :func:`dumps_indent1` does.

    Parameters
    ----------
    values : list
        The values (anything :func:`dumps_indent1` accepts).
    level : int
        The indentation level of the values (the level of the object that holds them, plus one).

    Returns
    -------
    list of str
        One text per value.
    """
    if not values:
        return []
    if set(map(type, values)) <= _LINE_TYPES:
        if not _LINES:
            if c_make_encoder is not None:
                c_enc = c_make_encoder(
                    None, None, encode_basestring_ascii, None, ": ", "\n", False, False, True
                )
                _LINES.append(lambda o, c_enc=c_enc: "".join(c_enc(o, 0)))
            else:  # pragma: no cover - CPython always has _json
                _LINES.append(json.JSONEncoder(separators=("\n", ": ")).encode)
        return _LINES[0](values)[1:-1].split("\n")
    out = []
    for v in values:
        parts: list[str] = []
        _general(v, level, parts)
        out.append("".join(parts))
    return out


def rounded_column(x: np.ndarray, ndigits: int) -> list[str]:
    """Return the JSON text of ``round(v, ndigits)`` for each float ``v`` of ``x``.

    The text is :mod:`json`'s, ``_float(round(v, ndigits))``.

    ``round(v, n)`` is the double nearest to ``v`` correctly rounded to ``n`` decimals, the decimal
    that ``format(v, f".{n}f")`` writes; and when that decimal has at most 15 significant digits,
    it is the only decimal of 15 digits or fewer that reads back as that double, so the shortest
    repr of ``round(v, n)`` is that decimal, trailing zeros dropped (one kept after the point).
    ``repr`` writes it positionally when it is 0 or between 1e-4 and 1e16. So each float with
    ``|v| < 10**(15 - n)`` (and ``|v| >= 1e-4`` when ``n > 4``: a smaller one may round to a
    decimal that ``repr`` writes with an exponent) is formatted once with ``"%.nf"`` and its
    trailing zeros dropped in ``n - 1`` passes of ``str.replace`` over the whole column, in C; any
    other value (NaN, infinities, large or tiny values) goes through ``round`` and ``repr``.

    Parameters
    ----------
    x : numpy.ndarray
        Float64 values, 1-D.
    ndigits : int
        Decimals kept (1 to 14 take the fast path; any other count is handled value by value).

    Returns
    -------
    list of str
        One text per value.
    """
    values = x.tolist()
    if not 1 <= ndigits <= 14 or not values:
        return [_float(round(v, ndigits)) for v in values]
    with np.errstate(invalid="ignore"):
        mag = np.abs(x)
        ok = mag < 10.0 ** (15 - ndigits)  # False for NaN and infinities
        if ndigits > 4:
            ok &= mag >= 1e-4
    fast = values if ok.all() else [v for v, good in zip(values, ok.tolist(), strict=True) if good]
    text = (f"%.{ndigits}f\n" * len(fast)) % tuple(fast)  # one format call for the column
    for _ in range(ndigits - 1):
        text = text.replace("0\n", "\n")
    out = text[:-1].split("\n") if fast else []
    if len(fast) == len(values):
        return out
    done = iter(out)
    return [
        next(done) if good else _float(round(v, ndigits)) for v, good in zip(values, ok.tolist(), strict=True)
    ]


def objects_text(keys: list[str], columns: list[list[str]], level: int) -> str:
    """Return the text of an array of flat objects, as :func:`dumps_indent1` writes it at ``level``.

    Object ``i`` is ``{keys[0]: columns[0][i], keys[1]: columns[1][i], ...}``; each column holds
    the values' texts (:func:`encode_column` at ``level + 2``). The text is laid out with one
    slice assignment per key: no Python loop over the objects.

    Parameters
    ----------
    keys : list of str
        The objects' keys, in order (at least one).
    columns : list of list of str
        One column of value texts per key, all of the same length (the number of objects).
    level : int
        The indentation level of the array.

    Returns
    -------
    str
        ``dumps_indent1`` of the list of objects at that level (``[]`` without objects).
    """
    if not keys or len(columns) != len(keys):
        raise ValueError("objects_text needs one column per key and at least one key")
    n = len(columns[0])
    if any(len(c) != n for c in columns):
        raise ValueError("objects_text needs columns of the same length")
    if n == 0:
        return "[]"
    item = "\n" + " " * (level + 1)
    inner = "\n" + " " * (level + 2)
    names = [encode_basestring_ascii(k) + ": " for k in keys]
    m = len(keys)
    parts: list[str] = [""] * (2 * m * n)
    parts[0 :: 2 * m] = [item + "}," + item + "{" + inner + names[0]] * n
    for k in range(1, m):
        parts[2 * k :: 2 * m] = ["," + inner + names[k]] * n
    for k in range(m):
        parts[2 * k + 1 :: 2 * m] = columns[k]
    parts[0] = "[" + item + "{" + inner + names[0]
    return "".join(parts) + item + "}\n" + " " * level + "]"


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
    elif type(o) is Raw:
        if o.level != level:
            raise ValueError(f"a Raw value made for level {o.level} met at level {level}")
        out.append(o.text)
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
