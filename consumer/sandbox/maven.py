"""Resolve a JVM engine's jars from Maven Central once, into a cache shared by every run.

Each engine is described by a small POM beside this module (``jvm/<name>.pom.xml``);
``mvn dependency:copy-dependencies`` copies its jars into
``$RUNLEDGER_ENGINE_CACHE/<name>-<digest of the POM>`` (default ``~/.cache/runledger/engines``).
A changed POM gets a new folder, so a cached folder is always complete and never stale.
Concurrent resolutions of one engine (parallel test sessions) wait on a file lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from consumer.sandbox.embedded import EmbeddedEngineError

JVM_FILES = Path(__file__).resolve().parent / "jvm"
COMPLETE = ".complete"


def cache_root() -> Path:
    """Where resolved jars are kept between runs."""
    configured = os.environ.get("RUNLEDGER_ENGINE_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "runledger" / "engines"


def engine_jars(name: str) -> Path:
    """The folder holding every jar of engine ``name``; resolved with Maven on first use."""
    pom = JVM_FILES / f"{name}.pom.xml"
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:12]
    target = cache_root() / f"{name}-{digest}"
    if (target / COMPLETE).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / COMPLETE).exists():
            _resolve(pom, target)
    return target


def _resolve(pom: Path, target: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise EmbeddedEngineError(
            f"Maven (mvn) is needed to fetch {pom.stem.removesuffix('.pom')}'s jars: "
            "install it (apt-get install maven)"
        )
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        completed = subprocess.run(  # noqa: S603 - fixed argv
            [mvn, "-B", "-q", "-f", str(pom), "dependency:copy-dependencies",
             f"-DoutputDirectory={staging}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if completed.returncode != 0:
            tail = (completed.stdout + completed.stderr).strip().splitlines()[-5:]
            raise EmbeddedEngineError(f"Maven could not resolve {pom.name}: " + " | ".join(tail))
        (staging / COMPLETE).touch()
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def java_binary() -> str:
    """``$JAVA_HOME/bin/java`` or the ``java`` on PATH (17 or newer)."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise EmbeddedEngineError("a Java 17+ runtime is needed: install openjdk-17-jre-headless")
    return found
