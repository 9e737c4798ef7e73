"""Policies by name: the one list of names, the one knob parser, the one way to build a policy.

``ebb serve``, ``ebb controller``, ``ebb sim`` and the CLI choices all read this module, so a
new policy is added in one place. Knobs are a policy's dataclass fields; their values arrive as
text from flags and config files and are parsed against the field's type here, with one-line
errors that name the knob and what it accepts.

    policy = build_policy("kpa", {"container_concurrency": 1}, Limits(0, 8))
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import fields
from functools import cache
from types import MappingProxyType
from typing import Any

from ebb.autoscale.policies.ebb import EbbPolicy
from ebb.autoscale.policies.hpa import HpaPolicy
from ebb.autoscale.policies.keda import KedaPolicy
from ebb.autoscale.policies.kpa import KpaPolicy
from ebb.autoscale.policies.limits import Limits, with_limits
from ebb.autoscale.policies.ray import RayPolicy
from ebb.autoscale.types import Policy

_CLASSES: Mapping[str, type[EbbPolicy | HpaPolicy | KedaPolicy | KpaPolicy | RayPolicy]] = {
    "ebb": EbbPolicy,
    "hpa": HpaPolicy,
    "keda": KedaPolicy,
    "kpa": KpaPolicy,
    "ray": RayPolicy,
}

POLICY_NAMES: tuple[str, ...] = tuple(_CLASSES)
"""Every policy's name, the default first."""

POLICIES: Mapping[str, Callable[..., Policy[Any]]] = MappingProxyType(dict(_CLASSES))
"""Policy constructors by name (read-only)."""

DEFAULT_POLICY = "ebb"


class KnobError(ValueError):
    """A policy name, knob name or knob value is wrong; the message is one line for a user."""


def _policy_class(name: str) -> type[Any]:
    cls = _CLASSES.get(name)
    if cls is None:
        raise KnobError(f"unknown policy {name!r}; known: {', '.join(sorted(_CLASSES))}")
    return cls


@cache
def knob_types(name: str) -> Mapping[str, Any]:
    """Each knob of policy `name` with its type (the dataclass fields a user may set)."""
    cls = _policy_class(name)
    hints = typing.get_type_hints(cls)
    return MappingProxyType({f.name: hints[f.name] for f in fields(cls)
                             if f.init and f.name != "label"})


def make_policy(name: str, **knobs: object) -> Policy[Any]:
    """Build the policy called `name` with the given knobs (its dataclass fields)."""
    known = knob_types(name)
    unknown = sorted(set(knobs) - set(known))
    if unknown:
        raise KnobError(f"unknown knob(s) {', '.join(unknown)} for policy {name!r}; "
                        f"known: {', '.join(sorted(known))}")
    try:
        return POLICIES[name](**knobs)
    except (TypeError, ValueError) as error:
        raise KnobError(f"policy {name!r}: {error}") from None


def parse_knob_value(name: str, knob: str, raw: str) -> object:
    """`raw` (text from a flag or file) as the type of `knob` of policy `name`."""
    known = knob_types(name)
    kind = known.get(knob)
    if kind is None:
        raise KnobError(f"unknown knob {knob!r} for policy {name!r}; known: "
                        f"{', '.join(sorted(known))}")
    try:
        return _parse(kind, raw.strip())
    except ValueError as error:
        raise KnobError(f"knob {knob} of policy {name!r} takes {error}, got {raw!r}") from None


def parse_knob(name: str, text: str) -> tuple[str, object]:
    """``[POLICY.]KNOB=VALUE`` for policy `name` (the prefix, as ``ebb sim`` spells knobs, must
    name it), the knob's dashes read as underscores."""
    key, separator, raw = text.partition("=")
    policy, dot, key = key.strip().rpartition(".")
    if not separator or not key.strip():
        raise KnobError(f"{text!r} is not [POLICY.]KNOB=VALUE")
    if dot and policy != name:
        raise KnobError(f"{text!r} sets a knob of policy {policy!r}, but the policy is {name!r}")
    knob = key.strip().replace("-", "_")
    return knob, parse_knob_value(name, knob, raw)


def coerce_knobs(name: str, knobs: Mapping[str, object]) -> dict[str, object]:
    """Knobs from a config file or environment (text or already typed), checked and typed."""
    typed = {}
    for knob, value in knobs.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        typed[knob.replace("-", "_")] = parse_knob_value(name, knob.replace("-", "_"), text)
    return typed


def _parse(kind: Any, raw: str) -> object:
    """Raises ValueError whose text says what the type accepts."""
    options = typing.get_args(kind) if isinstance(kind, types.UnionType) else ()
    if options:
        if type(None) in options and raw.lower() == "none":
            return None
        inner = [option for option in options if option is not type(None)]
        if len(inner) == 1:
            return _parse(inner[0], raw)
        raise ValueError("a value that cannot be given as text")
    if kind is bool:
        if raw.lower() in ("true", "false", "1", "0", "yes", "no"):
            return raw.lower() in ("true", "1", "yes")
        raise ValueError("true or false")
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ValueError("a whole number") from None
    if kind is float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError("a number") from None
        if value != value:
            raise ValueError("a number")
        return value
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        allowed = [str(member.value) for member in kind]
        for member in kind:
            if raw == str(member.value) or raw.lower() == member.name.lower():
                return member
        raise ValueError(f"one of {', '.join(allowed)}")
    if kind is str:
        return raw
    raise ValueError("a value that cannot be given as text (use the Python API)")


def build_policy(name: str, knobs: Mapping[str, object], limits: Limits, *,
                 scale_in_delay_s: float | None = None,
                 max_batch_size: int | None = None) -> Policy[Any]:
    """The policy as every host builds it: the named rule, the host's defaults, the bounds.

    `scale_in_delay_s` and `max_batch_size` are the host's settings for the knobs of the same
    name (``ebb serve``'s ``--scale-in-delay-s`` and ``--max-batch-size``, the simulator's
    world), given to policies that have them; a knob given explicitly wins over them.
    """
    defaults: dict[str, object] = {}
    host = {"scale_in_delay_s": scale_in_delay_s, "max_batch_size": max_batch_size}
    for knob, value in host.items():
        if value is not None and knob in knob_types(name):
            defaults[knob] = value
    return with_limits(make_policy(name, **{**defaults, **knobs}), limits)
