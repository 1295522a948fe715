"""The sdist builds a wheel where Maven and a JDK are (without a warning), and the wheel needs only a
Java runtime: nothing compiled or downloaded when it is installed and run."""

import email.parser
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

import vineyard_migrate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.skipif(shutil.which("mvn") is None, reason="building from the sdist needs Maven")
def test_sdist_builds_a_clean_wheel_that_needs_only_java(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # its notices are not ours
    subprocess.run([sys.executable, "setup.py", "-q", "sdist", "-d", str(tmp_path / "sdist")], cwd=ROOT, check=True,
                   capture_output=True, env=env, timeout=300)
    sdist = tmp_path / "sdist" / ("vineyard_migrate-%s.tar.gz" % vineyard_migrate.__version__)
    with tarfile.open(sdist) as archive:
        names = [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]
    assert {"pom.xml", "setup.py", "pyproject.toml", "README.md"} <= set(names)
    assert "java/src/main/java/io/v6d/migrate/Migrate.java" in names
    assert not [name for name in names if name.endswith(".jar")]  # Maven builds it

    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation",
                            "-w", str(tmp_path / "wheel"), str(sdist)], cwd=tmp_path, capture_output=True, text=True,
                           env=env, timeout=900)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    warnings = [line for line in (built.stdout + built.stderr).splitlines() if "warn" in line.lower()]
    assert warnings == []
    wheel = tmp_path / "wheel" / ("vineyard_migrate-%s-py3-none-any.whl" % vineyard_migrate.__version__)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = email.parser.Parser().parsestr(
            archive.read("vineyard_migrate-%s.dist-info/METADATA" % vineyard_migrate.__version__).decode())
    assert "vineyard_migrate/_jars/vineyard-migrate.jar" in names and "vineyard_migrate/_version.py" in names
    assert not [name for name in names if name.endswith((".java", "pom.xml"))]
    requires = metadata.get_all("Requires-Dist")
    assert "pandas<3,>=1.0" in requires and "setuptools<82" in requires and "vineyard<0.25,>=0.24.2" in requires

    # installed without its dependencies into a bare folder, run with no Maven/javac on PATH: Java only
    target = tmp_path / "installed"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(target),
                    str(wheel)], check=True, timeout=300)
    from vineyard_migrate import _jvm

    java_home = _jvm.find_java()["home"]
    run = subprocess.run([sys.executable, "-c", "import sys; from vineyard_migrate import cli; sys.exit(cli.main())",
                          "--version"], capture_output=True, text=True, timeout=120,
                         env={"PATH": "/nonexistent", "PYTHONPATH": str(target), "JAVA_HOME": java_home,
                              "HOME": str(tmp_path)})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "vineyard-migrate " + vineyard_migrate.__version__


def test_the_shipped_jar_holds_no_fault_injection():
    """Corrupting, stalling or inflating DATA is test-only: the shipped jar has the seam and its
    no-op, never an implementation nor the system properties that turn one on."""
    from vineyard_migrate import _jvm

    with zipfile.ZipFile(_jvm.jar_path()) as jar:
        names = jar.namelist()
        assert "io/v6d/migrate/faults/FaultInjection.class" in names  # the seam is there...
        assert not [n for n in names if "testhooks" in n.lower() or "TestHooks" in n]  # ...its faults are not
        assert "META-INF/services/io.v6d.migrate.faults.FaultInjection" not in names
        ours = [n for n in names if n.startswith("io/v6d/migrate/") and "/shaded/" not in n and n.endswith(".class")]
        assert ours and not [n for n in ours if b"io.v6d.migrate.test." in jar.read(n)]


def test_lz4_runs_its_native_library_from_the_shaded_jar():
    """lz4-java relocated into the jar loads its library but cannot bind it, and silently falls back
    to its pure-Java codec; unrelocated it must run the JNI one."""
    from vineyard_migrate import _jvm

    assert str(_jvm.java_class("io.v6d.migrate.compress.Codec").lz4Implementation()) == "JNI"
