"""The optional extras: what a command or module needs that ``pip install profilemock``
leaves out, imported when it is needed, or an ImportError saying which extra installs it.

Faker is one: installed, it registers a pytest plugin of its own that every pytest process
of a consumer loads as it starts (~0.2 to 0.45 s, each xdist worker too), and only
``generate`` and ``record --redact`` draw with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from faker import Faker


class MissingExtra(ImportError):
    """An optional dependency that what was asked for needs is not installed."""


def missing(what: str, package: str, extra: str) -> MissingExtra:
    """That ``what`` needs ``package``, and the extra that installs it."""
    return MissingExtra(f"{what} needs {package}: pip install 'profilemock[{extra}]'")


def faker(what: str) -> type[Faker]:
    """Faker's class, for ``what`` (``profilemock generate``, say), or MissingExtra."""
    try:
        from faker import Faker
    except ImportError:
        raise missing(what, "Faker", "generate") from None
    return Faker
