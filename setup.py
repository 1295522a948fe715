"""Builds the vineyard-migrate wheel; the engine jar travels inside it as package data.

When the jar is missing or older than the Java sources or pom.xml, the build runs Maven to make
it. Installing the wheel needs no compiler and no Maven, only a Java runtime.
"""

import glob
import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
JAR_DIR = os.path.join(HERE, "python", "vineyard_migrate", "_jars")
JAR = os.path.join(JAR_DIR, "vineyard-migrate.jar")


def _newest_source_mtime():
    sources = glob.glob(os.path.join(HERE, "java", "src", "main", "**", "*"), recursive=True)
    sources.append(os.path.join(HERE, "pom.xml"))
    return max(os.path.getmtime(path) for path in sources if os.path.isfile(path))


def build_jar():
    """Runs Maven when the packaged jar is missing or stale; a source tree without pom.xml
    (an sdist made from a built tree) must already carry the jar."""
    if not os.path.exists(os.path.join(HERE, "pom.xml")):
        if not os.path.exists(JAR):
            raise RuntimeError("no pom.xml to build the engine and no prebuilt jar at %s" % JAR)
        return
    if os.path.exists(JAR) and os.path.getmtime(JAR) >= _newest_source_mtime():
        return
    if shutil.which("mvn") is None:
        raise RuntimeError("building vineyard-migrate from source needs Maven (mvn) and a JDK 17")
    subprocess.check_call(["mvn", "-q", "-B", "package", "-DskipTests"], cwd=HERE)
    built = glob.glob(os.path.join(HERE, "target", "vineyard-migrate-*.jar"))
    built = [path for path in built if not os.path.basename(path).startswith("original-")]
    if len(built) != 1:
        raise RuntimeError("expected one shaded jar in target/, found %s" % built)
    os.makedirs(JAR_DIR, exist_ok=True)
    shutil.copyfile(built[0], JAR)


class BuildPyWithJar(build_py):
    def run(self):
        build_jar()
        super().run()


setup(
    package_dir={"": "python"},
    # vineyard.drivers.migrate is installed into vineyard's own package folder, without its
    # parents' __init__ files: vineyard imports every vineyard.drivers.* on `import vineyard`.
    packages=["vineyard_migrate", "vineyard.drivers.migrate"],
    package_data={"vineyard_migrate": ["_jars/vineyard-migrate.jar"]},
    cmdclass={"build_py": BuildPyWithJar},
    zip_safe=False,
)
