"""The built wheel carries the data files the package loads at run time."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_schemas_demo_fixture_types_and_entry_points(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--quiet", "--wheel-dir", str(tmp_path), str(ROOT)],
        check=True,
        timeout=300,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("profilemock-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    schemas = sorted(p.name for p in (ROOT / "profilemock" / "schemas").glob("*.schema.json"))
    assert len(schemas) == 10
    for required in (
        "profilemock/fixtures/demo/demo.yaml",
        "profilemock/py.typed",
        "profilemock/cli.py",
        *(f"profilemock/schemas/{name}" for name in schemas),
    ):
        assert required in names, required
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "profilemock = profilemock.__main__:run" in text
    assert not any(name.startswith("tests/") for name in names)
