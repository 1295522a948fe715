"""One version, written once in pom.xml, everywhere a user or a packager reads it."""

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
import zipfile
from importlib import metadata

import vineyard_migrate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def _pom_version():
    root = ElementTree.parse(os.path.join(ROOT, "pom.xml")).getroot()
    return root.find("{http://maven.apache.org/POM/4.0.0}version").text.strip()


def _run(program, *args):
    return subprocess.run([os.path.join(BIN, program), *args], capture_output=True, text=True, timeout=120)


def test_every_place_says_the_pom_version():
    version = _pom_version()
    # above the 0.7.1 C++ tool of the same name on PyPI, so that upgrading replaces it
    assert tuple(int(part) for part in version.split(".")[:3]) > (0, 7, 1)
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
    assert vineyard_migrate.__version__ == version
    assert metadata.version("vineyard-migrate") == version
    jar = os.path.join(os.path.dirname(vineyard_migrate.__file__), "_jars", "vineyard-migrate.jar")
    with zipfile.ZipFile(jar) as archive:
        manifest = archive.read("META-INF/MANIFEST.MF").decode()
    assert "Implementation-Version: %s" % version in manifest.splitlines()
    from vineyard_migrate import _jvm

    assert str(_jvm.engine().version()) == version  # Migrate.version(), in-process
    expected = {
        "vineyard-migrate": "vineyard-migrate " + version,
        "vineyard-migrate-stream": "vineyard-migrate-stream " + version,
        "vineyard-migrate-to-local": "vineyard-migrate-to-local " + version,
    }
    for program, line in expected.items():
        done = _run(program, "--version")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == line
    for sub in ("migrate", "plan", "stream", "to-local", "serve"):
        assert _run("vineyard-migrate", sub, "--version").stdout.strip() == "vineyard-migrate " + version
