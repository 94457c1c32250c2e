"""Bulk reader of plain SPICE element lines (the fast path of :func:`spucircuit.io.spice.read_spice`).

An exported integrator array is thousands of lines like ``R3_7 xn7 s3 12345.678``. The line-by-line
reader spends ~25 us on each (tokens, scopes, checks); this one reads runs of such lines with a few
list operations per run (~1.5 us per line). It vouches only for plain lines: anything else goes
through the line-by-line code (:func:`spucircuit.io.spice.elements.element`), and any problem
raises so that :func:`spucircuit.io.spice.parse_spice` parses the whole text again the original
way, whose errors (with line numbers) are the ones users see.

:func:`logical_lines_bulk` cuts the text into logical lines and runs of plain element lines;
:func:`read_elements_bulk` reads the top-level elements (step 3 of
:func:`spucircuit.io.spice.reader.parse_once` with ``bulk=True``).
"""
from __future__ import annotations

import math
import re
import string

from spucircuit._util.quantities import parse_number
from spucircuit.errors import SpiceError
from spucircuit.io.spice._cards import (
    ANN,
    NAMES_RE,
    OPAMP_IDEAL,
    Line,
    State,
    strip_comment,
)
from spucircuit.io.spice.elements import element, map_node
from spucircuit.io.spice.spellings import is_rkm_like

__all__ = ["logical_lines_bulk", "read_elements_bulk"]

# logical_lines_bulk: a text it takes has no character that str.strip() / str.split() treat as
# whitespace other than ' ', '\t' and '\n' (and no NUL), so a physical line is its own logical
# line when it is "plain": non-empty, not starting with ' ', '\t', '*', '+' or '.', not ending in
# ' ' or '\t', without ';' or '$'. A '\n' that ends a line with trailing blanks, or is followed by
# a line that does not start plain, or ends the text (regex led by a literal: a fast search):
_NOT_PLAIN_RE = re.compile(r"\n(?:(?<=[ \t]\n)|(?=[ \t*+.\n])|\Z)")
_ODD_CHARS = "\x00\r\x0b\x0c\x1c\x1d\x1e\x1f"
# the non-ASCII characters str.isspace() (so strip() and split()) takes for whitespace
_UNICODE_SPACES = "\x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200b))) + "\u2028\u2029\u202f\u205f\u3000"
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def logical_lines_bulk(text: str, filename: str):
    """The reader's logical lines for the bulk reader, or None when the text does not qualify (NUL, a lone
    CR, whitespace other than ' ', '\t' and '\n' after the title line): the same lines, except that
    consecutive plain element lines come as one :class:`_Run` (found with C-level string
    searches, not one physical line at a time), and the generated noise block is skipped with
    a search for its end. CR LF line ends are read as LF (strip() drops the CR either way)."""
    nl0 = text.find("\n")
    if nl0 < 0:
        return None
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        nl0 = text.find("\n")
    body = text[nl0 + 1:]
    for ch in _ODD_CHARS if body.isascii() else _ODD_CHARS + _UNICODE_SPACES:
        if ch in body:
            return None
    title = text[:nl0].rstrip("\r").lstrip("\ufeff").strip()
    out: list = []
    append = out.append
    last_card = None
    in_noise = None
    rt = rk = None  # the open run: texts, line numbers
    n = len(text)
    find, search = text.find, _NOT_PLAIN_RE.search
    pos, k = nl0 + 1, 2  # start and number of the current physical line
    while True:
        c = text[pos] if pos < n else "\n"
        if in_noise is None and c not in " \t*+.\n;$":  # try a block of plain lines
            # end: the '\n' after the last plain line of the block (n: the end of the text)
            m = search(text, pos)
            if m is None:
                end = n if text[-1] not in " \t" else text.rfind("\n", pos)
            else:
                q = m.start()
                end = q if text[q - 1] not in " \t" else text.rfind("\n", pos, q)
            for ch in ";$":
                q = find(ch, pos, end) if end > pos else -1
                if q >= 0:
                    end = text.rfind("\n", pos, q)
            if end > pos:
                lines = text[pos:end].split("\n")
                if rt is None:
                    rt, rk = [], []
                rt += lines
                rk += range(k, k + len(lines))
                last_card = _IN_RUN
                k += len(lines)
                if end >= n:
                    break
                pos = end + 1
                continue
        e = find("\n", pos)
        if e < 0:
            e = n
        if in_noise is not None:  # skip to the next line holding '*' (only one can end the block)
            q = find("*", pos)
            if q < 0:
                break
            ls = max(pos, text.rfind("\n", pos, q) + 1)  # start of the line holding q
            k += text.count("\n", pos, ls)
            pos = ls
            e = find("\n", pos)
            if e < 0:
                e = n
            s = text[pos:e].strip()
            if s.lower().startswith(ANN) and s[len(ANN):].strip().lower() == "noise-end":
                append(Line(s, k, "ann"))
                in_noise = None
        else:
            s = text[pos:e].strip()
            if not s:
                pass
            elif s[0] == "*":
                if s.lower().startswith(ANN):
                    if rt:
                        append(_Run(rt, rk))
                    rt = None
                    append(Line(s, k, "ann"))
                    if s[len(ANN):].strip().lower().startswith("noise-begin"):
                        in_noise = k
            elif s[0] == "+":
                if last_card is None:
                    raise SpiceError("continuation line '+' without a line to continue", filename, k)
                if last_card is _IN_RUN:  # the run's last line becomes a Line of its own
                    if not rt:  # (the run was closed by an annotation line)
                        raise _Fallback("continuation after an annotation")
                    last_card = Line(rt.pop(), rk.pop(), "card")
                    if rt:
                        append(_Run(rt, rk))
                    rt = None
                    append(last_card)
                last_card.text += " " + strip_comment(s[1:])
            else:
                if ";" in s or "$" in s:
                    s = strip_comment(s).strip()
                if not s:
                    pass
                elif s[0] != ".":
                    if rt is None:
                        rt, rk = [], []
                    rt.append(s)
                    rk.append(k)
                    last_card = _IN_RUN
                else:
                    if rt:
                        append(_Run(rt, rk))
                    rt = None
                    last_card = Line(s, k, "card")
                    append(last_card)
        if e >= n:
            break
        pos = e + 1
        k += 1
    if rt:
        append(_Run(rt, rk))
    if in_noise is not None:
        raise SpiceError("'*spu: noise-begin' without '*spu: noise-end'", filename, in_noise)
    return title, out


# ------------------------------------------------------------------ bulk reader of plain lines
class _Fallback(Exception):
    """The bulk reader met something it does not vouch for: parse again line by line."""


class _Run:
    """Consecutive element lines, as :func:`logical_lines_bulk` gives them: the texts their Line
    objects would hold and their line numbers (no object per line)."""

    __slots__ = ("texts", "linenos")
    kind = "run"

    def __init__(self, texts: list, linenos: list):
        self.texts = texts
        self.linenos = linenos

    def lines(self) -> list:
        return [Line(t, k, "card") for t, k in zip(self.texts, self.linenos)]


_IN_RUN = object()  # logical_lines_bulk: the last card is the last line of the open run
_INF = math.inf
# element names (one a line) as NAME_RE accepts them
# plain decimal numbers (one a line) for which float(tok) == parse_number(tok) bit for bit: no suffix,
# ASCII digits, an exponent of at most 5 digits
_PLAIN = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,5})?"
_PLAIN_RE = re.compile(rf"(?:{_PLAIN}\n)*")
_SAME_RE = re.compile(r"(.)\1*")
_BULK_MIN = 4  # shorter groups of same-letter lines are read line by line


# per first letter: token counts of the forms read in bulk (see _BulkReader.bulk)
_BULK_FORMS = {"r": (4,), "c": (4, 5), "l": (4, 5), "v": (4, 5), "i": (4, 5), "g": (6,), "x": (5,)}


def _plain_floats(toks: list):
    """[parse_value(t) for t in toks] (finite or not) when every token is a number, with or without
    an engineering suffix (no braces or quotes), else None.

    float() accepts plain decimals plus inf / nan / infinity and '_' between digits; on plain
    decimals parse_number agrees with it bit for bit (zeros are read again with parse_number all the
    same, and very long tokens are left to the line-by-line reader). Suffixed numbers (1k, 10uF) are
    read with parse_number itself."""
    try:
        vals = list(map(float, toks))
    except ValueError:
        if any(map(is_rkm_like, toks)):  # read line by line, which warns about them
            return None
        vals = list(map(parse_number, toks))
        return None if None in vals else vals
    joined = "".join(toks)
    if "_" in joined or "n" in joined or "N" in joined or max(map(len, toks)) > 200:
        return None
    if 0.0 in vals:
        vals = [v if v else parse_number(t) for v, t in zip(vals, toks)]
    return vals


_BULK_KIND = {"r": "R", "c": "C", "l": "L", "v": "V", "i": "I", "g": "G", "x": "U"}


class _BulkReader:
    """Top-level elements in bulk, as ``element(ln, st, scope, [], {}, 0)`` line by line would read
    them (same elements, per-kind order, values, node creation order).

    Plain forms (what :func:`write_spice` emits), with plain tokens (valid names, no braces,
    quotes, commas or '=' but in ``IC=``) and values in their domain::

        R n+ n- v | C|L n+ n- v [IC=v] | V|I n+ n- [dc] v | G n+ n- nc+ nc- gm
        X out inp inn spu_opamp_ideal | *spu: N name p q psd

    A :class:`_Run` is cut into groups of lines with the same first letter; a group (of at least
    _BULK_MIN lines) whose lines share one plain form with plain decimal values is added with a
    few list operations (:meth:`bulk`). Other lines go through :meth:`line` (the plain forms, with
    any SPICE number: ``1k``, ``10uF``), and what is not plain through :func:`element` in its
    turn. Checks made for all lines at once (element names, the plain form of numbers read by
    ``float``, duplicate names, the element count) raise :class:`_Fallback` when they fail, as
    does any error: :func:`~spucircuit.io.spice.parse_spice` then reads the whole text line by line, which gives the
    reference result or error message.
    """

    def __init__(self, st: State, scope: dict):
        self.st, self.scope = st, scope
        # node token -> index (the netlist's nodes so far are valid tokens of their own name)
        self.cache: dict = {nm: i for i, nm in enumerate(st.nl.node_names)}
        self.plain: list = []  # value tokens read by float(): checked together in finish()
        self.seen: list = []  # element names of lines read by line(): checked in finish()

    def node(self, tok: str, lineno: int) -> int:
        i = map_node(tok, self.st, [], {}, lineno)  # validates the token, creates the node
        self.cache[tok] = i
        return i

    def value(self, tok: str):
        try:
            v = float(tok)
        except ValueError:
            return None if is_rkm_like(tok) else parse_number(tok)  # engineering suffix (1k, 10uF) or None
        self.plain.append(tok)
        return v

    def nodes(self, toks, lineno: int) -> list:
        get = self.cache.get
        out = [get(t) for t in toks]
        if None in out:
            out = [self.node(t, lineno) for t in toks]
        return out

    def add(self, kind: str, name: str, low: str, nodes, v: float, ic: float, lineno: int):
        self.st.names[low] = lineno
        self.st.lines[kind].append(lineno)
        nm, nd, vals, ics = self.st.kinds[kind]
        nm.append(name)
        nd.extend(nodes)
        vals.append(v)
        ics.append(ic)

    # ------------------------------------------------------------------ one line
    def element(self, ln: Line) -> None:
        if ln.kind == "ann":
            if not self.ann(ln.text, ln.lineno):
                element(ln, self.st, self.scope, [], {}, 0)
        elif not self.line(ln.text, ln.lineno):
            element(ln, self.st, self.scope, [], {}, 0)

    def ann(self, text: str, L: int) -> bool:
        """'*spu: N name p q psd'."""
        parts = text[len(ANN):].split()
        if len(parts) != 5:
            return False
        _, name, a, b, vt = parts
        v = self.value(vt)
        low = name.lower()
        if v is None or not 0.0 <= v < _INF or low in self.st.names:
            return False
        self.seen.append(name)
        self.add("N", name, low, self.nodes((a, b), L), v, 0.0, L)
        return True

    def line(self, text: str, L: int) -> bool:
        """A plain element line read here (True), or False: element must read it."""
        toks = text.split()
        nt = len(toks)
        c = text[0].lower()
        names = self.st.names
        inf = _INF
        if c == "r" or c == "c" or c == "l":
            if nt == 4 or (nt == 5 and c != "r"):
                v = self.value(toks[3])
                ic = 0.0
                if nt == 5:
                    kw = toks[4]
                    ic = self.value(kw[3:]) if kw[:3].lower() == "ic=" else None
                name = toks[0]
                low = name.lower()
                # (R < 0 is a VCCS; R = 0, C, L <= 0 and non-finite values are errors: element)
                if v is None or ic is None or not (0.0 < v < inf and -inf < ic < inf) or low in names:
                    return False
                self.seen.append(name)
                if c == "c" and nt == 5:
                    self.st.ic_given.add(len(self.st.kinds["C"][0]))
                self.add(c.upper(), name, low, self.nodes(toks[1:3], L), v, ic, L)
                return True
        elif c == "v" or c == "i":
            if nt == 4 or (nt == 5 and toks[3].lower() == "dc"):
                v = self.value(toks[-1])
                name = toks[0]
                low = name.lower()
                if v is None or not -inf < v < inf or low in names:
                    return False
                self.seen.append(name)
                self.add(c.upper(), name, low, self.nodes(toks[1:3], L), v, 0.0, L)
                return True
        elif c == "g":
            if nt == 6:
                v = self.value(toks[5])
                name = toks[0]
                low = name.lower()
                if v is None or not -inf < v < inf or v == 0 or low in names:
                    return False
                self.seen.append(name)
                self.add("G", name, low, self.nodes(toks[1:5], L), v, 0.0, L)
                return True
        elif c == "x":
            if (nt == 5 and len(toks[0]) > 1 and toks[4].lower() == OPAMP_IDEAL
                    and "params:" not in text.lower()):
                name = toks[0]
                low = name[1:].lower()
                if low in names:
                    return False
                self.seen.append(name)
                self.add("U", name[1:], low, self.nodes(toks[1:4], L), inf, 0.0, L)
                return True
        return False

    # ------------------------------------------------------------------ runs of lines
    def run(self, run: _Run) -> None:
        texts, linenos = run.texts, run.linenos
        letters = "".join([t[0] for t in texts])  # one character a line (str.lower() may make two)
        letters = letters.lower() if letters.isascii() else letters.translate(_ASCII_LOWER)
        for m in _SAME_RE.finditer(letters):
            i, j = m.span()
            if j - i >= _BULK_MIN and self.bulk(letters[i], texts[i:j], linenos[i:j]):
                continue
            for t, k in zip(texts[i:j], linenos[i:j]):
                if not self.line(t, k):
                    element(Line(t, k, "card"), self.st, self.scope, [], {}, 0)

    def bulk(self, c: str, texts: list, linenos: list) -> bool:
        """Lines that all start with letter c and share one plain form, all at once (True), or
        False (nothing done: read them line by line)."""
        kind = _BULK_KIND.get(c)
        m = len(texts)
        if kind is None:
            return False
        joined = "\n".join(texts)
        if "\x01" in joined:
            return False
        # tokens of all lines with a '\x01' token after each line but the last; every line has
        # T tokens exactly when there are m (T + 1) - 1 tokens with '\x01' at T, 2 T + 1, ...
        toks = joined.replace("\n", " \x01 ").split()
        T1, rem = divmod(len(toks) + 1, m)
        T = T1 - 1
        if rem or T not in _BULK_FORMS[c] or toks[T::T1].count("\x01") != m - 1:
            return False
        names = toks[0::T1]
        inf = _INF
        if kind == "U":  # X out inp inn spu_opamp_ideal
            if set(map(str.lower, toks[4::T1])) != {OPAMP_IDEAL} or "params:" in joined.lower():
                return False
            if min(map(len, names)) < 2:
                return False
            reg = [nm[1:] for nm in names]
            vals = [inf] * m
            nterm = 3
        else:
            reg = names
            nterm = 4 if kind == "G" else 2
            if kind in "VI" and T == 5:
                if set(map(str.lower, toks[3::T1])) != {"dc"}:
                    return False
                vals = _plain_floats(toks[4::T1])
            else:
                vals = _plain_floats(toks[T1 - 2 if kind == "G" else 3::T1])
            if vals is None:
                return False
            lo, hi = min(vals), max(vals)
            if kind in "RCL":
                if not (lo > 0.0 and hi < inf):
                    return False  # (R < 0 is a VCCS, the rest errors: line by line)
            elif not (lo > -inf and hi < inf) or (kind == "G" and 0.0 in vals):
                return False
        ics = None
        if kind in "CL" and T == 5:
            kws = toks[4::T1]
            if {kw[:3].lower() for kw in kws} != {"ic="}:
                return False
            ics = _plain_floats([kw[3:] for kw in kws])
            if ics is None or not (min(ics) > -inf and max(ics) < inf):
                return False
        if not NAMES_RE.fullmatch("\n".join(names) + "\n"):
            return False
        # nodes: terminal tokens in the order the lines name them (new nodes are made in it)
        flat = [None] * (nterm * m)
        for i in range(nterm):
            flat[i::nterm] = toks[1 + i::T1]
        get = self.cache.get
        idx = list(map(get, flat))
        if None in idx:  # new nodes, made in the order the lines name them
            miss = [t for t, i in zip(flat, idx) if i is None]
            if not NAMES_RE.fullmatch("\n".join(miss) + "\n"):
                raise _Fallback("node name")  # an error, reported line by line
            self.cache.update(zip(miss, self.st.nl.nodes(miss).tolist()))
            idx = list(map(get, flat))
        st = self.st
        names_seen = st.names
        n0 = len(names_seen)
        names_seen.update(zip("\n".join(reg).lower().split("\n"), linenos))
        if len(names_seen) != n0 + m:
            raise _Fallback("duplicate element name")  # an error, reported line by line
        nm, nd, vv, ii = st.kinds[kind]
        if ics is not None and kind == "C":
            st.ic_given.update(range(len(nm), len(nm) + m))
        nm.extend(reg)
        st.lines[kind].extend(linenos)
        nd.extend(idx)
        vv.extend(vals)
        ii.extend(ics if ics is not None else [0.0] * m)
        return True

    def finish(self) -> None:
        if self.seen:
            if not NAMES_RE.fullmatch("\n".join(self.seen) + "\n"):
                raise _Fallback("element name")
        if self.plain:
            if not _PLAIN_RE.fullmatch("\n".join(self.plain) + "\n"):
                raise _Fallback("value")
        if len(self.st.names) > self.st.max_elements:
            raise _Fallback("element count")


def read_elements_bulk(elements: list, st: State, scope: dict) -> None:
    """Step 3 of :func:`~spucircuit.io.spice.reader.parse_once` with ``bulk``: see :class:`_BulkReader`."""
    rd = _BulkReader(st, scope)
    for ln in elements:
        if ln.kind == "run":
            rd.run(ln)
        else:
            rd.element(ln)
    rd.finish()


