import os
import socket
import subprocess
import sys

import pytest

from core.models import Lease

pytestmark = pytest.mark.django_db

HOST = socket.gethostname()


def test_a_held_lease_is_refused_to_others_until_it_expires():
    assert Lease.acquire("loop", "elsewhere:1", seconds=60)
    assert Lease.acquire("loop", "elsewhere:1", seconds=60)  # renewal by the holder
    assert not Lease.acquire("loop", "elsewhere:2", seconds=60)
    assert Lease.acquire("other", "elsewhere:2", seconds=60)
    assert Lease.acquire("expired", "elsewhere:1", seconds=-1)
    assert Lease.acquire("expired", "elsewhere:2", seconds=60)


def test_the_lease_of_a_dead_process_on_this_host_is_taken_over_at_once():
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    assert Lease.acquire("collector", f"{HOST}:{finished.stdout.strip()}", seconds=600)
    me = f"{HOST}:{os.getpid()}"
    assert Lease.acquire("collector", me, seconds=600)
    # A living holder keeps its lease: pid 1 is alive, and so is this process.
    assert not Lease.acquire("collector", f"{HOST}:1", seconds=600)
