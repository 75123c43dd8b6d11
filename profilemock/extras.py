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
    """That ``what`` needs ``package``, the extra that installs it, and the command that
    installs it alone: profilemock is not on PyPI, so ``pip install 'profilemock[extra]'``
    would find nothing to install (or another project of that name)."""
    return MissingExtra(f"{what} needs {package} (the `{extra}` extra): pip install {package}")


def faker(what: str) -> type[Faker]:
    """Faker's class, for ``what`` (``profilemock generate``, say), or MissingExtra."""
    try:
        from faker import Faker
    except ImportError:
        raise missing(what, "Faker", "generate") from None
    return Faker
