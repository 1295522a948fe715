"""Builds the vineyard-migrate wheel; the engine jar travels inside it as package data.

When the jar is missing or older than the Java sources or pom.xml, the build runs Maven to make
it (the sdist carries pom.xml and the Java sources, not the jar). Installing the wheel needs no
compiler and no Maven, only a Java runtime. The version is read from pom.xml, where it is written
once; the build writes it into vineyard_migrate/_version.py of the wheel.
"""

import glob
import os
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
JAR_DIR = os.path.join(HERE, "python", "vineyard_migrate", "_jars")
JAR = os.path.join(JAR_DIR, "vineyard-migrate.jar")
POM = os.path.join(HERE, "pom.xml")


def pom_version():
    """<project><version> of pom.xml: the one place the version is written."""
    namespace = {"m": "http://maven.apache.org/POM/4.0.0"}
    version = ElementTree.parse(POM).getroot().find("m:version", namespace)
    if version is None or not version.text or not version.text.strip():
        raise RuntimeError("pom.xml has no <version>")
    return version.text.strip()


def _newest_source_mtime():
    sources = glob.glob(os.path.join(HERE, "java", "src", "main", "**", "*"), recursive=True)
    sources.append(os.path.join(HERE, "pom.xml"))
    return max(os.path.getmtime(path) for path in sources if os.path.isfile(path))


def build_jar():
    """Runs Maven when the packaged jar is missing or stale."""
    if os.path.exists(JAR) and os.path.getmtime(JAR) >= _newest_source_mtime():
        return
    if shutil.which("mvn") is None:
        raise RuntimeError("building vineyard-migrate from source needs Maven (mvn) and a JDK 17")
    subprocess.check_call(["mvn", "-q", "-B", "package", "-DskipTests"], cwd=HERE)
    built = os.path.join(HERE, "target", "vineyard-migrate-%s.jar" % pom_version())
    if not os.path.exists(built):
        raise RuntimeError("Maven made no shaded jar at %s" % built)
    os.makedirs(JAR_DIR, exist_ok=True)
    shutil.copyfile(built, JAR)


class BuildPyWithJar(build_py):
    def run(self):
        build_jar()
        super().run()
        # the version for `vineyard_migrate.__version__`, in the built package only (not the source tree)
        target = os.path.join(self.build_lib, "vineyard_migrate", "_version.py")
        with open(target, "w") as f:
            f.write('"""Written by setup.py from pom.xml."""\n\nversion = %r\n' % pom_version())


# _jars holds only the jar (built by Maven): it exists before setuptools looks for its package dir
os.makedirs(JAR_DIR, exist_ok=True)


setup(
    version=pom_version(),
    package_dir={"": "python"},
    # vineyard.drivers.migrate is installed into vineyard's own package folder, without its
    # parents' __init__ files: vineyard imports every vineyard.drivers.* on `import vineyard`.
    packages=["vineyard_migrate", "vineyard_migrate._jars", "vineyard.drivers.migrate"],
    package_data={"vineyard_migrate._jars": ["vineyard-migrate.jar"]},
    cmdclass={"build_py": BuildPyWithJar},
    zip_safe=False,
)
