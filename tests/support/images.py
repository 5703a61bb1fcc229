"""Test images of the simulators, built FROM scratch out of this machine's own Python.

No registry is reachable, so each image holds the running interpreter, the libraries `ldd` lists for
it and for the stdlib extension modules (at their host paths), a trimmed stdlib and one simulator
script. Tags carry a hash of the script, this recipe and the interpreter path: an unchanged script
reuses the image (one `images.get`), a changed one builds a new tag. Builds take a file lock, so
threads and parallel pytest processes build each tag once.
"""

import contextlib
import fcntl
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
from functools import cache
from pathlib import Path

import docker
import docker.errors

SIMULATORS = Path(__file__).resolve().parent.parent / "simulators"
INTERPRETER = os.path.realpath(sys.executable)
STDLIB = Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
# Stdlib parts the simulators never import: tests, third-party packages, GUI, packaging and build
# files. Dropping them (and optimised .pyc) keeps the image near 70 MB instead of 1 GB.
SKIPPED_DIRS = {
    "test", "site-packages", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3",
    "distutils", "pydoc_data",
}
# Extension modules for tests and Tk; _tkinter alone would pull in X11, Tcl and Tk.
SKIPPED_EXTENSIONS = ("_test", "_ctypes_test", "_xx", "xx", "_tkinter")
LABELS = {"orch-test": "1"}
BUILD_LOCK = Path(tempfile.gettempdir()) / "orch-test-images.lock"
DOCKERFILE = """\
FROM scratch
COPY rootfs/ /
ENV PYTHONHOME={home} PYTHONDONTWRITEBYTECODE=1
ENTRYPOINT ["{interpreter}", "-u", "/sim/{script}"]
"""


def engine_sim_image() -> str:
    """Tag of the AceStream engine simulator image, built if missing."""
    return _image("engine-sim", "engine_sim.py")


def gluetun_sim_image() -> str:
    """Tag of the Gluetun control-server simulator image, built if missing."""
    return _image("gluetun-sim", "gluetun_sim.py")


def _image(name, script):
    source = (SIMULATORS / script).read_bytes()
    dockerfile = DOCKERFILE.format(home=sys.base_prefix, interpreter=INTERPRETER, script=script)
    # The recipe (this file) is hashed too, so changing what goes into the image rebuilds it.
    recipe = Path(__file__).read_bytes()
    digest = hashlib.sha256(source + recipe + INTERPRETER.encode()).hexdigest()[:12]
    tag = f"orch-test/{name}:{digest}"
    with contextlib.closing(docker.from_env()) as client:
        if _exists(client, tag):
            return tag
        with _build_lock():
            if not _exists(client, tag):  # another thread or process may have built it meanwhile
                client.images.build(
                    fileobj=_context(dockerfile, script, source),
                    custom_context=True,
                    tag=tag,
                    labels=LABELS,
                    rm=True,
                    forcerm=True,
                )
    return tag


def _exists(client, tag):
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


@contextlib.contextmanager
def _build_lock():
    # flock binds to the open file, so it excludes other threads as well as other processes.
    with open(BUILD_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _context(dockerfile, script, source):
    """In-memory tar: the Dockerfile, and under rootfs/ the runtime files at their host paths."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", dereference=True) as tar:
        _add_bytes(tar, "Dockerfile", dockerfile.encode())
        _add_bytes(tar, f"rootfs/sim/{script}", source)
        for path in _runtime_files():
            tar.add(path, arcname=f"rootfs{path}", recursive=False)
    buffer.seek(0)
    return buffer


def _add_bytes(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


@cache
def _runtime_files():
    """Interpreter, trimmed stdlib and every shared library they load (dynamic loader included)."""
    stdlib = []
    for directory, subdirs, files in os.walk(STDLIB):
        subdirs[:] = [d for d in subdirs if d not in SKIPPED_DIRS and not d.startswith("config-")]
        stdlib += [
            os.path.join(directory, f)
            for f in files
            if ".opt-" not in f and not (f.endswith(".so") and f.startswith(SKIPPED_EXTENSIONS))
        ]
    extensions = [f for f in stdlib if f.endswith(".so")]
    return sorted({INTERPRETER, *stdlib, *_shared_libraries([INTERPRETER, *extensions])})


def _shared_libraries(binaries):
    """Files `ldd` resolves for the binaries, dynamic loader included; skips its `path:` headers."""
    output = subprocess.run(["ldd", *binaries], check=True, capture_output=True, text=True).stdout
    libraries = set()
    for line in output.splitlines():
        for token in line.split():
            if token.startswith("/") and not token.endswith(":") and os.path.exists(token):
                libraries.add(token)
    return libraries
