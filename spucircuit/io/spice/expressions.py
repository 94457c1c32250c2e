"""The ``.param`` expression evaluator: the value of a SPICE token.

:func:`parse_value` reads a number with an engineering suffix (``4.7k``, ``10uF``, see
:func:`spucircuit._util.quantities.parse_number`) or an expression in braces or single quotes
(``{2*rval}``, ``'sqrt(c1*c2)'``). Expressions are plain numeric ones, evaluated by a small
recursive-descent parser (no ``eval``): ``+ - * / % \\ ^ **``, comparisons, ``! && || ?:``
(ngspice's numparam operators, precedence and meanings: ``x^y`` is ``|x|^y``, left-associative),
parentheses, the functions of :data:`FUNCTIONS` (sqrt exp ln log log10 abs min max pow sin cos tan
atan sinh cosh tanh floor ceil, and numparam's sqr pwr int nint sgn arctan asin acos asinh acosh
atanh ternary_fcn), the constant ``pi``, the parameters in scope (lower-case names) and the user
functions of ``.func`` cards in scope (:class:`UserFunction`, under ``FUNC_PREFIX + name``). Errors are
ValueError with a reason; the reader adds the file and line.

ngspice 39 semantics kept: a user function is a macro (``inpcom.c``: ``inp_expand_macro_in_str``),
so its body sees the parameters at the call site, its arguments shadow them, and it cannot recurse;
a two-argument built-in given one argument takes 1.0 as its first (``xpressn.c``: ``formula``,
``v = 1.0``), so ``max(x)`` = max(1, x). A node voltage or branch current (``v(n)``, ``i(v1)``)
makes a value behavioural (nonlinear): refused, named.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from spucircuit._util.quantities import parse_number

__all__ = ["FUNCTIONS", "FUNC_PREFIX", "UserFunction", "parse_value"]

# name -> (number of arguments, function); also the names a .param may not take
FUNCTIONS = {
    "sqrt": (1, math.sqrt), "exp": (1, math.exp), "ln": (1, math.log), "log": (1, math.log),
    "log10": (1, math.log10), "abs": (1, abs), "sin": (1, math.sin), "cos": (1, math.cos),
    "tan": (1, math.tan), "atan": (1, math.atan), "sinh": (1, math.sinh), "cosh": (1, math.cosh),
    "tanh": (1, math.tanh), "floor": (1, math.floor), "ceil": (1, math.ceil),
    "min": (2, min), "max": (2, max), "pow": (2, math.pow),
    # the rest of ngspice 39's numparam functions that are deterministic (xpressn.c: fmathS, mathfunction)
    "sqr": (1, lambda x: x * x), "pwr": (2, lambda z, x: math.pow(abs(z), x)), "int": (1, math.trunc),
    "nint": (1, round),  # round half to even, as C's nearbyint in the default rounding mode
    "sgn": (1, lambda x: float((x > 0) - (x < 0))), "arctan": (1, math.atan), "asin": (1, math.asin),
    "acos": (1, math.acos), "asinh": (1, math.asinh), "acosh": (1, math.acosh), "atanh": (1, math.atanh),
    "ternary_fcn": (3, lambda c, a, b: a if c != 0 else b),
}
_CONSTS = {"pi": math.pi}
FUNC_PREFIX = "func:"  # scope key of a user function (no parameter name contains ':')
_MAX_CALLS = 10_000  # user-function calls per expression (a body calling twice per level grows 2^depth)


@dataclass(frozen=True)
class UserFunction:
    """A ``.func name(params) body`` card: lower-case parameter names, the body text, its line."""

    name: str
    params: tuple
    body: str
    lineno: int
_EXPR_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[A-Za-z]*)|(?P<id>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|==|!=|<>|<=|>=|&&|\|\||[-+*/^(),?:%\\<>=!]))")
_COMPARE = {"==": lambda x, y: x == y, "=": lambda x, y: x == y, "!=": lambda x, y: x != y,
            "<>": lambda x, y: x != y, "<": lambda x, y: x < y, ">": lambda x, y: x > y,
            "<=": lambda x, y: x <= y, ">=": lambda x, y: x >= y}
_MAX_DEPTH = 60


class _ExprError(Exception):
    pass


_UNIT = {"t": 1e12, "g": 1e9, "k": 1e3, "u": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15, "a": 1e-18}


def _expr_number(tok: str) -> float:
    """A number inside an expression, as ngspice's numparam reads it (xpressn.c: fetchnumber, parseunit):
    the decimal, then the first letter is the unit (``meg`` 1e6, any other ``m`` milli, so ``1mil`` is
    1e-3 here while an element value's ``1mil`` is 25.4e-6); ``a`` is atto as in :func:`parse_number`."""
    m = re.match(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", tok)
    x = float(m.group(0))
    unit = tok[m.end():].lower()
    if unit.startswith("meg"):
        return x * 1e6
    if unit.startswith("m"):
        return x * 1e-3
    return x * _UNIT.get(unit[:1], 1.0)


class _Expr:
    """Recursive-descent evaluator of plain numeric expressions (no eval)."""

    def __init__(self, text: str, scope: dict, active: tuple = (), calls: list | None = None):
        self.toks = self._lex(text)
        self.i = 0
        self.scope = scope
        self.depth = 0
        self.active = active  # the user functions being evaluated (a call of one of them is recursion)
        self.calls = calls if calls is not None else [0]

    @staticmethod
    def _lex(text):
        out, pos = [], 0
        text = text.rstrip()
        while pos < len(text):
            m = _EXPR_TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise _ExprError(f"unexpected character {text[pos:pos + 1]!r} in expression")
            pos = m.end()
            kind = m.lastgroup
            out.append((kind, m.group(kind)))
        return out

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self, val=None):
        t = self.peek()
        if t[0] is None or (val is not None and t[1] != val):
            raise _ExprError(f"expected {val!r}" if val else "unexpected end of expression")
        self.i += 1
        return t

    def args(self) -> list:
        """The values of a call's parenthesised, comma-separated arguments (none for '()')."""
        self.take("(")
        if self.peek()[1] == ")":
            self.take()
            return []
        out = [self.expr()]
        while self.peek()[1] == ",":
            self.take()
            out.append(self.expr())
        self.take(")")
        return out

    def call(self, fn: UserFunction) -> float:
        """A user function's value: its body in the caller's scope, its parameters bound to the arguments."""
        where = f"function {fn.name!r} (.func on line {fn.lineno})"
        if fn.name in self.active:
            chain = " -> ".join(self.active[self.active.index(fn.name):] + (fn.name,))
            raise _ExprError(f"{where} calls itself ({chain}): recursion is not supported")
        args = self.args()
        if len(args) != len(fn.params):
            raise _ExprError(f"{where} takes {len(fn.params)} argument(s), got {len(args)}")
        self.calls[0] += 1
        if self.calls[0] > _MAX_CALLS:
            raise _ExprError(f"more than {_MAX_CALLS} user-function calls in one expression")
        local = dict(self.scope)
        local.update(zip(fn.params, args))
        sub = _Expr(fn.body, local, self.active + (fn.name,), self.calls)
        sub.depth = self.depth
        try:
            return sub.run()
        except _ExprError as exc:
            if str(exc).startswith(("function ", "more than ")):
                raise
            raise _ExprError(f"in {where}: {exc}") from None

    def run(self) -> float:
        if not self.toks:
            raise _ExprError("empty expression")
        v = self.expr()
        if self.i != len(self.toks):
            raise _ExprError(f"unexpected {self.toks[self.i][1]!r}")
        return v

    def enter(self):
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise _ExprError("expression nested too deeply")

    # numparam's precedence (xpressn.c: fetchoperator), loosest first: ?: || && comparisons + - * / % \ unary ^
    def expr(self):
        self.enter()
        c = self.either()
        if self.peek()[1] == "?":  # c ? a : b, right-associative
            self.take()
            a = self.expr()
            self.take(":")
            b = self.expr()
            c = a if c != 0 else b
        self.depth -= 1
        return c

    def either(self):
        v = self.both()
        while self.peek()[1] == "||":
            self.take()
            w = self.both()
            v = float(v != 0 or w != 0)
        return v

    def both(self):
        v = self.compare()
        while self.peek()[1] == "&&":
            self.take()
            w = self.compare()
            v = float(v != 0 and w != 0)
        return v

    def compare(self):
        v = self.sum()
        while self.peek()[1] in _COMPARE:
            op = self.take()[1]
            v = float(_COMPARE[op](v, self.sum()))
        return v

    def sum(self):
        v = self.term()
        while self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            w = self.term()
            v = v + w if op == "+" else v - w
        return v

    def term(self):
        v = self.unary()
        while self.peek()[1] in ("*", "/", "%", "\\"):
            op = self.take()[1]
            w = self.unary()
            if op == "*":
                v = v * w
                continue
            if w == 0:
                raise _ExprError("division by zero")
            if op == "/":
                v = v / w
            elif op == "%":  # operate(): x - y trunc(x / y)
                v = v - w * math.trunc(v / w)
            else:  # '\\': operate(): trunc(|x / y|)
                v = float(math.trunc(abs(v / w)))
        return v

    def unary(self):
        self.enter()
        if self.peek()[1] in ("+", "-", "!"):
            op = self.take()[1]
            v = self.unary()
            v = -v if op == "-" else (float(v == 0) if op == "!" else v)
        else:
            v = self.power()
        self.depth -= 1
        return v

    def power(self):
        # ngspice 39 (no compatibility mode): x^y = |x|^y, left-associative: 2^3^2 = 64 (operate(), formula())
        v = self.atom()
        while self.peek()[1] in ("^", "**"):
            self.take()
            v = math.pow(abs(v), self.signed_atom())
        return v

    def signed_atom(self):
        self.enter()
        if self.peek()[1] in ("+", "-"):
            v = -self.signed_atom() if self.take()[1] == "-" else self.signed_atom()
        else:
            v = self.atom()
        self.depth -= 1
        return v

    def atom(self):
        kind, val = self.take()
        if kind == "num":
            return _expr_number(val)
        if kind == "id":
            low = val.lower()
            if self.peek()[1] == "(":
                user = self.scope.get(FUNC_PREFIX + low)
                if user is not None:
                    return self.call(user)
                if low in ("v", "i"):
                    raise _ExprError(f"{low}(...) is a {'node voltage' if low == 'v' else 'branch current'}: "
                                     "a value that depends on it is behavioural/nonlinear, which is not supported")
                if low not in FUNCTIONS:
                    raise _ExprError(f"unknown function {val!r}")
                nargs, fn = FUNCTIONS[low]
                args = self.args()
                if nargs == 2 and len(args) == 1:  # ngspice's numparam: a missing first argument is 1.0
                    args = [1.0] + args
                if len(args) != nargs:
                    raise _ExprError(f"{val}() takes {nargs} argument(s), got {len(args)}")
                return float(fn(*args))
            if low in self.scope:
                return self.scope[low]
            if low in _CONSTS:
                return _CONSTS[low]
            raise _ExprError(f"unknown parameter {val!r}")
        if val == "(":
            v = self.expr()
            self.take(")")
            return v
        raise _ExprError(f"unexpected {val!r}")


def _eval_expr(text: str, scope: dict) -> float:
    try:
        v = _Expr(text, scope).run()
    except _ExprError as exc:
        raise ValueError(f"cannot evaluate {text!r}: {exc}") from None
    except (ValueError, OverflowError, ZeroDivisionError, TypeError) as exc:
        raise ValueError(f"cannot evaluate {text!r}: {exc}") from None
    v = float(v)
    if not math.isfinite(v):
        raise ValueError(f"expression {text!r} is not finite")
    return v


def parse_value(tok: str, scope: dict | None = None) -> float:
    """Value of a SPICE token: a number with suffix (``4.7k``, ``10uF``), ``{expr}`` or ``'expr'``.

    Raises ValueError with a reason (the reader turns it into a SpiceError with the line).
    """
    scope = scope or {}
    t = tok.strip()
    if len(t) >= 2 and ((t[0] == "{" and t[-1] == "}") or (t[0] == "'" and t[-1] == "'")):
        return _eval_expr(t[1:-1], scope)
    v = parse_number(t)
    if v is None:
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", t) and t.lower() in scope:
            raise ValueError(f"value {tok!r} is a bare parameter name: write {{{t}}}")
        raise ValueError(f"{tok!r} is not a number")
    if not math.isfinite(v):
        raise ValueError(f"value {tok!r} is out of the floating-point range")
    return v
