"""Argument parsing shared by every ``ebb`` command: one vocabulary, one-line errors.

Kept apart from ``ebb.cli`` so that the offline tools (``ebb sim``, ``ebb load``), which may not
import the server's command, use the same parser class and the same deprecated spellings.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn


class EbbParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line (no usage dump), exit status 2.

    Subcommand parsers inherit the class, so ``ebb serve --slo-ms abc`` and ``ebb sim
    --rate x`` answer alike."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


class DeprecatedAlias(argparse.Action):
    """An old spelling of a flag: still accepted, stores into the new flag's ``dest``, hidden
    from ``--help``, and warns once per use which spelling to use instead."""

    def __init__(self, option_strings: Sequence[str], dest: str, *, new_flag: str,
                 append: bool = False, **kwargs: Any) -> None:
        kwargs["help"] = argparse.SUPPRESS
        super().__init__(option_strings, dest, **kwargs)
        self.new_flag = new_flag
        self.append = append

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        print(f"{parser.prog}: {option_string} is deprecated; use {self.new_flag}",
              file=sys.stderr)
        if self.append:
            items = list(getattr(namespace, self.dest, None) or [])
            items.append(values)
            values = items
        setattr(namespace, self.dest, values)


def add_deprecated(parser: Any, old_flag: str, new_flag: str, dest: str, *,
                   append: bool = False, kind: Any = None) -> None:
    """Accept ``old_flag`` as a hidden, warning alias of ``new_flag`` (same ``dest``)."""
    parser.add_argument(old_flag, dest=dest, action=DeprecatedAlias, new_flag=new_flag,
                        append=append, type=kind, default=argparse.SUPPRESS)


def split_policy_option(text: str) -> tuple[str | None, str, str]:
    """``[POLICY.]KNOB=VALUE`` -> (policy or None, knob, raw value); ValueError when malformed.

    The one spelling of a policy knob for ``ebb serve`` (one policy: the prefix is optional)
    and ``ebb sim`` (several policies: the prefix names one)."""
    target, separator, raw = text.partition("=")
    policy, dot, knob = target.strip().rpartition(".")
    if not separator or not knob.strip():
        raise ValueError(f"{text!r} is not [POLICY.]KNOB=VALUE")
    if dot and not policy:
        raise ValueError(f"{text!r} names no policy before the dot")
    return (policy or None), knob.strip().replace("-", "_"), raw
