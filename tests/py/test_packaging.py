"""The wheel ships the SQL: sql/ as m10py/sql and migrations/ as m10py/migrations, byte for byte.

Builds the wheel once per module (`python -m build --wheel`; without build isolation when hatchling
is importable, so no download is needed) and checks that the package finds its SQL inside it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from m10py import resources

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# Source folder in the checkout -> folder inside the wheel (pyproject.toml's force-include).
SHIPPED = {"sql": "m10py/sql", "migrations": "m10py/migrations"}


def _source_files() -> dict[str, Path]:
    """Every file the wheel must carry, by its path inside the wheel."""
    files: dict[str, Path] = {}
    for source, target in SHIPPED.items():
        for path in sorted((ROOT / source).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                files[f"{target}/{path.relative_to(ROOT / source).as_posix()}"] = path
    return files


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "build", "--wheel", "--outdir", str(outdir)]
    if importlib.util.find_spec("hatchling") is not None:
        command.append("--no-isolation")
    result = subprocess.run([*command, str(ROOT)], capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    wheels = sorted(outdir.glob("m10py-*.whl"))
    assert len(wheels) == 1, f"expected one wheel in {outdir}: {wheels}"
    return wheels[0]


@pytest.fixture(scope="module")
def unpacked(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    return target


def test_the_checkout_has_sql_to_ship() -> None:
    files = _source_files()
    assert any(name.startswith("m10py/sql/functions/") for name in files), "no sql/functions/*.sql"
    assert any(name.startswith("m10py/migrations/") for name in files), "no migrations/*.sql"


def test_wheel_carries_every_sql_file_and_migration(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        expected = _source_files()
        missing = sorted(set(expected) - names)
        assert not missing, f"{wheel.name} lacks {missing}"
        different = [n for n, p in expected.items() if archive.read(n) != p.read_bytes()]
    assert not different, f"{wheel.name} holds other contents for {different}"
    shipped_sql = {n for n in names if n.startswith(tuple(f"{t}/" for t in SHIPPED.values()))}
    assert shipped_sql == set(expected), f"unexpected files: {sorted(shipped_sql - set(expected))}"


def test_wheel_has_the_package_and_the_cli(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "m10 = m10py.cli:main" in archive.read(entry_points).decode()
    assert "m10py/__init__.py" in names
    assert "m10py/resources.py" in names
    assert not [n for n in names if n.startswith("tests/")], "tests are not shipped"


def test_sql_dir_resolves_in_the_checkout() -> None:
    assert (resources.sql_dir() / "functions").is_dir()
    assert resources.migrations_dir().is_dir()


_RESOURCES_ONLY = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("m10py_resources", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps({"sql": str(module.sql_dir()), "migrations": str(module.migrations_dir())}))
"""


def test_resources_resolve_inside_the_wheel_without_a_venv(unpacked: Path, tmp_path: Path) -> None:
    """m10py/resources.py from the wheel alone (python -I -S: no site-packages, no checkout)."""
    module = unpacked / "m10py" / "resources.py"
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _RESOURCES_ONLY, str(module)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert Path(found["sql"]) == (unpacked / "m10py" / "sql").resolve()
    assert Path(found["migrations"]) == (unpacked / "m10py" / "migrations").resolve()


_INSTALLED_PACKAGE = """
import json
import m10py
from m10py import resources, schema
print(json.dumps({
    "package": m10py.__file__,
    "sql": str(resources.sql_dir()),
    "migrations": str(resources.migrations_dir()),
    "functions": sorted(o.name for o in schema.package_objects() if o.kind == "function"),
}))
"""


def test_the_unpacked_wheel_uses_its_own_sql(unpacked: Path, tmp_path: Path) -> None:
    """The package imported from the wheel (ahead of the checkout) finds the SQL shipped with it."""
    env = {**os.environ, "PYTHONPATH": str(unpacked)}
    result = subprocess.run(
        [sys.executable, "-c", _INSTALLED_PACKAGE],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert Path(found["package"]).resolve().is_relative_to(unpacked.resolve()), found["package"]
    assert Path(found["sql"]) == (unpacked / "m10py" / "sql").resolve()
    assert Path(found["migrations"]) == (unpacked / "m10py" / "migrations").resolve()
    expected = sorted(p.stem for p in (ROOT / "sql" / "functions").glob("*.sql"))
    assert found["functions"] == expected
