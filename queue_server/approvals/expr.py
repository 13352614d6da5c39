"""Rule conditions: a small, safe expression language with three-valued results.

A rule's condition (``when``) is written as a Python expression and parsed with :mod:`ast`,
but never handed to ``eval``: :func:`compile_expr` accepts only the node kinds below, and
:func:`evaluate` gives them this engine's meaning::

    person.hukou_region == hall.region
    applicant.age >= param.min_age
    person.death_date is None
    not any(b.benefit == "elderly_allowance" for b in benefits.records)
    covers([r for r in insurance.records if r.region == hall.region], input.from_month, input.to_month)

* ``a.b`` names a **fact** (``person.hukou_region``) unless ``a`` is a loop variable of a
  comprehension, when it is a field of that record. ``param.x`` is the parameter in force
  on the application date; ``application.date`` is that date (ISO text).
* A fact that is missing, a parameter with no value in force, a field a record lacks:
  :data:`UNKNOWN`, never a default. Unknown spreads through comparisons, arithmetic and
  calls; ``and``/``or``/``not``, ``any`` and ``all`` follow Kleene's logic (``False and
  UNKNOWN`` is False, ``True or UNKNOWN`` is True). A condition that ends UNKNOWN is a rule
  result of UNKNOWN, so the case goes to a person.
* An exception while evaluating (comparing text with a number, a key a dict lacks) is
  raised to the caller, which records the rule as UNKNOWN with the error.

Allowed: constants, lists/tuples, ``and or not``, ``== != < <= > >= in not in is is not``,
``+ - *``, unary ``-``, subscripts (``param.age_limits[education.level]``), generator
expressions and list comprehensions with one ``for`` and optional ``if``, and the calls in
:data:`FUNCTIONS`.
"""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any


class _Unknown:
    """The third truth value: not known (a missing fact, parameter or field)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:  # pragma: no cover - a programming error if it happens
        raise TypeError("UNKNOWN has no truth value; use the three-valued operators")


UNKNOWN: Any = _Unknown()


class ExprError(ValueError):
    """A condition uses something the language does not allow (found by compile_expr)."""


# -- functions ---------------------------------------------------------------------------------
def _month_index(month: str) -> int:
    """'2019-01' → a month number; raises ValueError for anything else."""
    if not isinstance(month, str) or len(month) != 7 or month[4] != "-":
        raise ValueError(f"not a month (YYYY-MM): {month!r}")
    year, mon = int(month[:4]), int(month[5:])
    if not 1 <= mon <= 12:
        raise ValueError(f"not a month (YYYY-MM): {month!r}")
    return year * 12 + mon - 1


def _date(value: str) -> dt.date:
    if not isinstance(value, str):
        raise TypeError(f"not an ISO date: {value!r}")
    return dt.date.fromisoformat(value)


def covers(ranges: Iterable[Mapping[str, Any]], first: str, last: str, *, until: str | None = None) -> bool:
    """Whether the union of records' ``from_month``..``to_month`` covers every month of
    ``first``..``last``. A record without ``to_month`` is ongoing up to ``until`` (the
    application month) and never beyond."""
    lo, hi = _month_index(first), _month_index(last)
    if lo > hi:
        return False
    cap = _month_index(until) if until else None
    spans = []
    for r in ranges:
        start = _month_index(r["from_month"])
        end_text = r.get("to_month")
        end = _month_index(end_text) if end_text else (cap if cap is not None else start)
        if cap is not None:
            end = min(end, cap)
        spans.append((start, end))
    need = lo
    for start, end in sorted(spans):
        if start > need:
            break
        need = max(need, end + 1)
        if need > hi:
            return True
    return need > hi


def years_between(earlier: str, later: str) -> int:
    """Whole years from one ISO date to another (birthdays count on the day)."""
    a, b = _date(earlier), _date(later)
    return b.year - a.year - ((b.month, b.day) < (a.month, a.day))


def months_between(earlier: str, later: str) -> int:
    """Whole months from one ISO date to another."""
    a, b = _date(earlier), _date(later)
    return (b.year - a.year) * 12 + b.month - a.month - (b.day < a.day)


def month_of(date: str) -> str:
    """'2026-12-02' → '2026-12'."""
    return _date(date).isoformat()[:7]


def next_month(date: str) -> str:
    """The month after the date's month: '2026-12-02' → '2027-01'."""
    d = _date(date)
    return f"{d.year + d.month // 12:04d}-{d.month % 12 + 1:02d}"


def province(region: str) -> str:
    """The province of a 6-digit region code: '370114' → '37'."""
    if not isinstance(region, str) or len(region) != 6 or not region.isdigit():
        raise ValueError(f"not a region code: {region!r}")
    return region[:2]


def city(region: str) -> str:
    """The prefecture-level city of a 6-digit region code: '370114' → '3701'."""
    return province(region) + region[2:4]


def band(value: int | float, bands: Iterable[Any]) -> Any:
    """The label of the last ``[lower, label]`` band whose lower bound ``value`` reaches."""
    found: Any = UNKNOWN
    for lower, label in sorted(bands, key=lambda b: b[0]):
        if value >= lower:
            found = label
    return found


#: Functions a condition may call (besides ``any`` and ``all``, which are three-valued).
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len,
    "covers": covers,
    "years_between": years_between,
    "months_between": months_between,
    "month_of": month_of,
    "next_month": next_month,
    "province": province,
    "city": city,
    "band": band,
    "min": min,
    "max": max,
}

_COMPARE = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: lambda a, b: a is b,
    ast.IsNot: lambda a, b: a is not b,
}
_BINOPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b}


@dataclass(frozen=True)
class Compiled:
    """A checked condition: its text, its tree, and the facts and parameters it names."""

    text: str
    tree: ast.expr
    facts: frozenset[str]
    params: frozenset[str]


def _dotted(node: ast.expr) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def compile_expr(text: str) -> Compiled:
    """Parse and check a condition; :class:`ExprError` says what is not allowed."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ExprError(f"syntax error in {text!r}: {exc.msg}") from exc
    facts: set[str] = set()
    params: set[str] = set()

    def check(node: ast.AST, bound: frozenset[str]) -> None:
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, str | int | float | bool | type(None)):
                raise ExprError(f"constant {node.value!r} not allowed")
            return
        if isinstance(node, ast.Attribute | ast.Name):
            path = _dotted(node)
            if path is None:
                raise ExprError(f"attribute of an expression: {ast.unparse(node)}")
            if any(part.startswith("_") for part in path.split(".")):
                raise ExprError(f"names may not start with _: {path}")
            root = path.split(".")[0]
            if root in bound:
                return
            if isinstance(node, ast.Name):
                raise ExprError(f"bare name {path!r}: facts are dotted (person.hukou_region)")
            if root == "param":
                if path.count(".") != 1:
                    raise ExprError(f"parameter path {path!r}: use param.<name>")
                params.add(path.split(".", 1)[1])
            else:
                facts.add(path)
            return
        if isinstance(node, ast.BoolOp | ast.Compare | ast.List | ast.Tuple):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr_context | ast.boolop | ast.cmpop):
                    continue
                check(child, bound)
            if isinstance(node, ast.Compare):
                for op in node.ops:
                    if type(op) not in _COMPARE:
                        raise ExprError(f"comparison {type(op).__name__} not allowed")
            return
        if isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.Not | ast.USub):
                raise ExprError(f"operator {type(node.op).__name__} not allowed")
            check(node.operand, bound)
            return
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                raise ExprError(f"operator {type(node.op).__name__} not allowed")
            check(node.left, bound)
            check(node.right, bound)
            return
        if isinstance(node, ast.Subscript):
            check(node.value, bound)
            if isinstance(node.slice, ast.Slice):
                raise ExprError("slices are not allowed")
            check(node.slice, bound)
            return
        if isinstance(node, ast.GeneratorExp | ast.ListComp):
            if len(node.generators) != 1:
                raise ExprError("one 'for' per comprehension")
            gen = node.generators[0]
            if not isinstance(gen.target, ast.Name) or gen.is_async:
                raise ExprError("comprehension target must be one name")
            if gen.target.id in ("param", "application") or "." in gen.target.id:
                raise ExprError(f"loop variable {gen.target.id!r} shadows a root")
            check(gen.iter, bound)
            inner = bound | {gen.target.id}
            for cond in gen.ifs:
                check(cond, inner)
            check(node.elt, inner)
            return
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or (node.func.id not in FUNCTIONS
                                                        and node.func.id not in ("any", "all")):
                raise ExprError(f"call of {ast.unparse(node.func)} not allowed")
            if node.func.id in ("any", "all") and (len(node.args) != 1 or node.keywords):
                raise ExprError(f"{node.func.id}() takes one iterable")
            for arg in node.args:
                check(arg, bound)
            for kw in node.keywords:
                if kw.arg is None:
                    raise ExprError("**kwargs not allowed")
                check(kw.value, bound)
            return
        raise ExprError(f"{type(node).__name__} not allowed: {ast.unparse(node)}")

    check(tree, frozenset())
    return Compiled(text.strip(), tree, frozenset(facts), frozenset(params))


# -- evaluation --------------------------------------------------------------------------------
class Scope:
    """What a condition sees: facts by dotted name, parameter values, loop variables."""

    def __init__(self, facts: Mapping[str, Any], params: Mapping[str, Any],
                 local: Mapping[str, Any] | None = None) -> None:
        self.facts = facts
        self.params = params
        self.local = dict(local or {})

    def bind(self, name: str, value: Any) -> Scope:
        return Scope(self.facts, self.params, {**self.local, name: value})


def _lookup(node: ast.expr, scope: Scope) -> Any:
    path = _dotted(node)
    assert path is not None
    parts = path.split(".")
    if parts[0] in scope.local:
        value = scope.local[parts[0]]
        for attr in parts[1:]:
            if value is UNKNOWN:
                return UNKNOWN
            if not isinstance(value, Mapping):
                raise TypeError(f"{'.'.join(parts[:1])} is not a record")
            value = value.get(attr, UNKNOWN)
        return value
    if parts[0] == "param":
        return scope.params.get(parts[1], UNKNOWN)
    return scope.facts.get(path, UNKNOWN)


def _kleene_and(values: Iterable[Any]) -> Any:
    unknown = False
    for v in values:
        if v is UNKNOWN:
            unknown = True
        elif not _truth(v):
            return False
    return UNKNOWN if unknown else True


def _kleene_or(values: Iterable[Any]) -> Any:
    unknown = False
    for v in values:
        if v is UNKNOWN:
            unknown = True
        elif _truth(v):
            return True
    return UNKNOWN if unknown else False


def _truth(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"a condition needs true or false, got {value!r}")
    return value


def _items(node: ast.GeneratorExp | ast.ListComp, scope: Scope) -> Any:
    """(element value per record) of a comprehension, or UNKNOWN if the list or a filter is."""
    gen = node.generators[0]
    source = evaluate(gen.iter, scope)
    if source is UNKNOWN:
        return UNKNOWN
    if not isinstance(source, list | tuple | dict):
        raise TypeError(f"cannot loop over {type(source).__name__}")
    target = gen.target.id  # type: ignore[attr-defined]
    out = []
    for element in source:
        inner = scope.bind(target, element)
        keep = _kleene_and(evaluate(c, inner) for c in gen.ifs) if gen.ifs else True
        if keep is UNKNOWN:
            return UNKNOWN
        if keep:
            out.append(evaluate(node.elt, inner))
    return out


def evaluate(node: ast.expr, scope: Scope) -> Any:
    """The value of a compiled condition's tree (may be :data:`UNKNOWN`); raises on errors."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Attribute | ast.Name):
        return _lookup(node, scope)
    if isinstance(node, ast.BoolOp):
        # every operand is evaluated lazily through the generator: False (and) or True (or)
        # stops early, as Kleene's logic allows
        values = (evaluate(v, scope) for v in node.values)
        return _kleene_and(values) if isinstance(node.op, ast.And) else _kleene_or(values)
    if isinstance(node, ast.UnaryOp):
        value = evaluate(node.operand, scope)
        if value is UNKNOWN:
            return UNKNOWN
        if isinstance(node.op, ast.Not):
            return not _truth(value)
        return -value
    if isinstance(node, ast.Compare):
        left = evaluate(node.left, scope)
        results = []
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = evaluate(right_node, scope)
            if left is UNKNOWN or right is UNKNOWN:
                results.append(UNKNOWN)
            else:
                results.append(_COMPARE[type(op)](left, right))
            left = right
        return _kleene_and(results)
    if isinstance(node, ast.BinOp):
        a, b = evaluate(node.left, scope), evaluate(node.right, scope)
        if a is UNKNOWN or b is UNKNOWN:
            return UNKNOWN
        return _BINOPS[type(node.op)](a, b)
    if isinstance(node, ast.List | ast.Tuple):
        elements = [evaluate(e, scope) for e in node.elts]
        return UNKNOWN if any(v is UNKNOWN for v in elements) else elements
    if isinstance(node, ast.Subscript):
        container, key = evaluate(node.value, scope), evaluate(node.slice, scope)
        if container is UNKNOWN or key is UNKNOWN:
            return UNKNOWN
        return container[key]
    if isinstance(node, ast.ListComp):
        return _items(node, scope)
    if isinstance(node, ast.GeneratorExp):  # only as the argument of any()/all()
        return _items(node, scope)
    if isinstance(node, ast.Call):
        name = node.func.id  # type: ignore[attr-defined]
        args = [evaluate(a, scope) for a in node.args]
        kwargs = {str(kw.arg): evaluate(kw.value, scope) for kw in node.keywords}
        if name in ("any", "all"):
            values = args[0]
            if values is UNKNOWN:
                return UNKNOWN
            return _kleene_or(values) if name == "any" else _kleene_and(values)
        if any(a is UNKNOWN for a in args) or any(v is UNKNOWN for v in kwargs.values()):
            return UNKNOWN
        return FUNCTIONS[name](*args, **kwargs)
    raise ExprError(f"{type(node).__name__} not allowed")  # compile_expr keeps this out


def truth(compiled: Compiled, facts: Mapping[str, Any], params: Mapping[str, Any]) -> Any:
    """True, False or :data:`UNKNOWN` for a condition; TypeError if it is not a truth value."""
    value = evaluate(compiled.tree, Scope(facts, params))
    if value is UNKNOWN:
        return UNKNOWN
    return _truth(value)
