"""numass.processes.die_with_parent: a child never outlives a killed parent."""
import multiprocessing as mp
import os
import signal
import time

from numass.processes import die_with_parent


def _child(pid_queue):
    die_with_parent(poll=0.1)
    pid_queue.put(os.getpid())
    time.sleep(60)


def _parent(pid_queue):
    ctx = mp.get_context("fork")
    ctx.Process(target=_child, args=(pid_queue,)).start()
    time.sleep(60)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie waiting for init to reap it is dead
        return f.read().split()[2] != "Z"


def test_a_child_dies_with_its_killed_parent():
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    parent = ctx.Process(target=_parent, args=(q,))
    parent.start()
    child = q.get(timeout=10)
    assert _alive(child)
    os.kill(parent.pid, signal.SIGKILL)  # kill -9: no cleanup runs in the parent
    parent.join()
    deadline = time.time() + 5
    while _alive(child) and time.time() < deadline:
        time.sleep(0.05)
    assert not _alive(child)
