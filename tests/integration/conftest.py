import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = ROOT / os.environ.get("TOLLGATE_BUILD", "build")


@pytest.fixture
def dp_check(tmp_path):
    """Runs `tollgate-dp --check` on a document given as text; returns (rc, stdout, stderr)."""

    def run(text, name="kong.yml"):
        path = tmp_path / name
        path.write_text(text)
        p = subprocess.run([str(BUILD / "tollgate-dp"), "--check", str(path)],
                           capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    return run
