"""envs/, datagen/ and baselines/ install as ambient_bench.* (never as bare top-level
packages), for a regular and an editable install, seen from outside the repository."""

import json
import subprocess
import sys
from pathlib import Path

import gymnasium
import pytest

REPO = Path(__file__).resolve().parent.parent
SUBPACKAGES = ("ambient_bench.envs", "ambient_bench.datagen", "ambient_bench.baselines")
# Run with -S (no site-packages, so not the test environment's own install), then add
# the fresh install's directory as a site dir (which also runs an editable .pth) and, after
# it, the directory that holds the dependencies (plainly, without its .pth files, so the
# test environment's own editable install stays out): `import ambient_bench` imports gymnasium.
DEPENDENCIES = str(Path(gymnasium.__file__).resolve().parent.parent)
PROBE = (
    "import sys, site, json, importlib.util as u; site.addsitedir(sys.argv[1]); sys.path.append(sys.argv[2]); "
    f"print(json.dumps({{n: u.find_spec(n).origin for n in {SUBPACKAGES!r}}})); "
    "assert u.find_spec('envs') is None and u.find_spec('datagen') is None"
)

pytestmark = pytest.mark.slow


def pip_install(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", *args],
                   check=True, capture_output=True)


def probe(site_dir: Path, cwd: Path) -> dict:
    out = subprocess.run([sys.executable, "-S", "-c", PROBE, str(site_dir), DEPENDENCIES], cwd=cwd,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_regular_install_maps_the_subpackages(tmp_path):
    target = tmp_path / "site"
    pip_install("--target", str(target), str(REPO))
    origins = probe(target, tmp_path)
    assert origins["ambient_bench.envs"] == str(target / "ambient_bench" / "envs" / "__init__.py")
    assert (target / "ambient_bench" / "baselines" / "ambient.py").exists()
    assert (target / "ambient_bench" / "suites" / "maze.yaml").exists()
    assert (target / "ambient_bench" / "envs" / "maze_layouts" / "boxes.json").exists()
    assert not (target / "envs").exists() and not (target / "baselines").exists()


def test_editable_install_maps_the_subpackages(tmp_path):
    # Build the PEP 660 editable wheel pip would install and unpack it into a fresh site
    # dir (installing it with pip would replace the test environment's own install).
    import zipfile

    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-c", "import sys, setuptools.build_meta as b; b.build_editable(sys.argv[1])",
                    str(wheels)], cwd=REPO, check=True, capture_output=True)
    (wheel,) = wheels.glob("*.whl")
    site_dir = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site_dir)
    origins = probe(site_dir, tmp_path)
    assert origins["ambient_bench.envs"] == str(REPO / "envs" / "__init__.py")
    assert origins["ambient_bench.baselines"] == str(REPO / "baselines" / "__init__.py")
