"""The explorer page at ``/__admin/explorer``: one HTML file with its script and styles
inline, shipped in the package. It is a view over the admin API and the Profile API —
everything it shows comes from their documented endpoints."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def explorer_page() -> bytes:
    return (resources.files("profilemock.mockserver") / "explorer.html").read_bytes()
