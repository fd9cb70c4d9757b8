"""The README's "Running across machines" works as written: its config loads (with the certificates
its own command makes) and its systemd unit passes ``systemd-analyze verify``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.needs import SYSTEMD_ANALYZE
from todonode import certs
from todonode.config import load_config

README = Path(__file__).resolve().parents[2] / "README.md"


def section() -> str:
    text = README.read_text()
    start = text.index("## Running across machines")
    return text[start : text.index("\n## ", start + 1)]


def block(language: str, holding: str = "") -> str:
    """The section's one ``language`` block that holds ``holding``."""
    found = [b for b in re.findall(rf"```{language}\n(.*?)```", section(), re.DOTALL) if holding in b]
    assert len(found) == 1, f"one {language} block holding {holding!r} in the section, found {len(found)}"
    return found[0]


def test_the_readme_config_loads_with_the_files_it_names(tmp_path: Path) -> None:
    command = next(line for line in block("sh", "certs init").splitlines() if "certs init" in line)
    members = [certs.parse_member(word) for word in command.split()[5:]]
    certs.init(tmp_path, members)
    for name in ("ca.crt", "n1.crt", "n1.key"):
        assert (tmp_path / name).exists(), name
    for name, text in (("cluster.secret", os.urandom(32).hex()), ("client.token", "c"), ("admin.token", "a")):
        (tmp_path / name).write_text(text)
        (tmp_path / name).chmod(0o600)
    (tmp_path / "node.toml").write_text(block("toml"))

    config = load_config(tmp_path / "node.toml", environ={})

    assert config.node.id == "10.0.0.1:4000" and config.tls.mutual and config.node.peer_port == 4001
    assert config.peer_urls["10.0.0.2:4000"] == "https://10.0.0.2:4001"
    assert config.api.admin_token == "a" and not config.plaintext_beyond_loopback


def test_the_readme_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    SYSTEMD_ANALYZE.check()
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None
    installed = Path(sys.executable).with_name("todonode")  # where pip put it here, not /usr/local/bin
    unit = tmp_path / "todonode.service"
    unit.write_text(block("ini").replace("/usr/local/bin/todonode", str(installed)))

    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)

    assert (done.returncode, done.stdout + done.stderr) == (0, "")
