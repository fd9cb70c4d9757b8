"""`pip install .` (not editable) must give a working `todonode` that serves the dashboard: the static
files have to travel inside the wheel."""

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from .harness import ProcessCluster, find_leader

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("todonode-*.whl")
    return built


def test_the_wheel_carries_the_dashboard(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "todonode/static/index.html" in names


async def test_an_installed_wheel_serves_the_dashboard(wheel, tmp_path, client):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    # The project's dependencies come from this interpreter's environment; the package itself only from
    # the wheel, unpacked as pip would install it.
    site = next((env_dir / "lib").glob("python3*/site-packages"))
    zipfile.ZipFile(wheel).extractall(site)
    deps = next(p for p in map(Path, sys.path) if p.name == "site-packages" and (p / "aiohttp").exists())
    (site / "deps.pth").write_text(str(deps) + "\n")
    cluster = ProcessCluster(tmp_path / "cluster", 1)
    try:
        node = cluster.nodes[0]
        cluster.python = str(env_dir / "bin" / "python")
        cluster.start(0)
        await find_leader(client, cluster)
        async with client.session.get(node.url + "/") as resp:
            assert resp.status == 200 and resp.content_type == "text/html"
            assert "<html" in await resp.text()
        async with client.session.get(node.url + "/status") as resp:
            status = await resp.json()
        # It really ran from the wheel, not from the source tree.
        assert "site-packages" in (await _module_file(cluster.python))
        assert status["is_leader"] is True
    finally:
        cluster.close()


async def _module_file(python: str) -> str:
    result = subprocess.run(
        [python, "-c", "import todonode; print(todonode.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout
