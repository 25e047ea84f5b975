"""CI: the wheel and sdist in DIST are publishable as they are.

`twine check --strict` has passed on them already; this checks what twine does not: the wheel
carries py.typed, the package data and the console script, the sdist carries the sources, and
the wheel installed on its own (no source tree on the path) imports and reads its data.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

dist = Path(sys.argv[1])
(wheel,) = dist.glob("creditsdk-*.whl")
(sdist,) = dist.glob("creditsdk-*.tar.gz")

with zipfile.ZipFile(wheel) as zf:
    names = set(zf.namelist())
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    scripts = zf.read(entry_points).decode()
needed = {
    "creditsdk/py.typed",
    "creditsdk/tianyuan/data/factors.csv",
    "creditsdk/tianyuan/data/sandbox_factors.csv",
    "creditsdk/tianyuan/data/sandbox_bucket_tables.toml",
}
missing = sorted(needed - names)
assert not missing, f"wheel lacks {missing}"
assert "creditsdk = creditsdk._cli:main" in scripts
assert not [n for n in names if n.startswith("tests/")], "tests in the wheel"

with tarfile.open(sdist) as tar:
    members = tar.getnames()
for path in ("pyproject.toml", "README.md", "src/creditsdk/__init__.py", "src/creditsdk/py.typed"):
    assert any(m.endswith("/" + path) for m in members), f"sdist lacks {path}"

with tempfile.TemporaryDirectory() as target:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", target, str(wheel)],
        check=True,
    )
    probe = (
        "import creditsdk, creditsdk.tianyuan as t; "
        f"assert creditsdk.__file__.startswith({target!r}), creditsdk.__file__; "
        "assert len(t.catalog()) >= 16; "
        "t.load_bucket_tables(t.SANDBOX_BUCKET_TABLES)"
    )
    subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {target!r}); {probe}"],
        check=True,
    )
print(f"dist ok: {wheel.name}, {sdist.name}")
