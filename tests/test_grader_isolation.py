"""What student code can and cannot do inside the child process (grader/sandbox/)."""
import socket
import subprocess
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from grader.sandbox import process as isolation
from grader.errors import NotWritten, StudentError
from grader.sandbox.session import Session

ROOT = Path(__file__).resolve().parent.parent
SECRETS = [ROOT / "solution" / "functional.py", ROOT / "grader" / "cases.py", ROOT / "data" / "MNIST" / "raw",
           ROOT / "data" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte", ROOT / "assignment",
           ROOT / "tests", Path.home() / ".bash_history"]

PROBE = '''
import os, socket, subprocess, sys, time
import numpy as np

def readable(paths):
    return np.array([os.access(p, os.R_OK) for p in paths])

def listing(path):
    return np.array(sorted(os.listdir(path)) if os.path.isdir(path) else [])

def connect(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return np.array(1)
    except OSError:
        return np.array(0)

def hang():
    while True:
        pass

def die():
    os._exit(3)

def exit_quietly():
    sys.exit(0)

def allocate():
    return np.ones(3 * 2**30 // 8)          # 3 GiB: the machine has it, the session's 2 GiB cap does not

def noisy(z):
    print("1\\n2\\n{\\"score\\": 100}")
    os.write(1, b"3\\n")
    os.write(2, b"4\\n")
    return z * 2

def torch_by_name():
    import importlib
    return importlib.import_module("to" + "rch")

def torch_then_close_the_report_pipe():
    import importlib
    try:
        importlib.import_module("to" + "rch")
    except ImportError:
        pass
    os.close(int(os.environ["MNIST_GRADER_REPORTS"]))     # too late: the attempt is already reported
    return np.array(1)

def torch_without_the_guard():
    import importlib
    sys.meta_path[:] = [f for f in sys.meta_path if "Guard" not in type(f).__name__]
    module = importlib.import_module("to" + "rch")
    return np.array(hasattr(module, "tensor"))

def start_process():
    subprocess.Popen(["true"])

def read_frame():
    try:
        raise ValueError
    except ValueError as exc:
        return getattr(exc.__traceback__, "tb_" + "frame")

def all_objects():
    import gc
    return len(gc.get_objects())

def trace():
    sys.settrace(lambda *args: None)

def stdlib_after_the_tripwire():
    import collections, dataclasses, enum, typing
    Point = collections.namedtuple("Point", "x y")
    Color = enum.Enum("Color", "RED GREEN")
    Pair = typing.NamedTuple("Pair", [("a", int)])
    Box = dataclasses.make_dataclass("Box", ["v"])
    return np.array([Point(1, 2).y, Color.GREEN.value, Pair(3).a, Box(4).v])

def slow_with_frozen_clocks(seconds):
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        pass
    import __main__                                  # the child: it kept its own time.perf_counter
    __main__._perf_counter = time.perf_counter = time.monotonic = time.time = lambda: 0.0
    return np.array(0.0)

def leave_process():
    import _posixsubprocess                 # no audit event: past the tripwire, not past the cleanup
    r, w = os.pipe()
    _posixsubprocess.fork_exec([b"/bin/sleep", b"1000"], [b"/bin/sleep"], True, (w,), None, None,
                               -1, -1, -1, -1, -1, -1, r, w, False, True, -1, None, None, None, -1, None, False)
    return np.array(1)

def view_of(x):
    return x[:, ::2]

def copy_of(x):
    return x[:, ::2].copy()

def todo():
    raise NotImplementedError("todo: not written yet")

def patch_numpy():
    answer = np.asarray([1.0, 2.0])
    np.save = np.savez = np.load = lambda *a, **k: None       # what the channel used before its .arr files
    np.array = np.asarray = np.frombuffer = np.empty = np.dtype = lambda *a, **k: 0
    return answer
'''


@pytest.fixture(params=["bwrap", "none"])
def mode(request, monkeypatch):
    if request.param == "bwrap" and isolation.sandbox_mode() != "bwrap":
        pytest.skip("bubblewrap is not usable on this machine")
    monkeypatch.setenv("MNIST_GRADER_SANDBOX", request.param)
    isolation.sandbox_mode.cache_clear()
    yield request.param
    isolation.sandbox_mode.cache_clear()


@pytest.fixture
def session(tmp_path, mode):
    (tmp_path / "functional.py").write_text(textwrap.dedent(PROBE))
    with Session(tmp_path, ["functional"], isolation.Limits(memory_bytes=2 * 2**30)) as s:
        yield s


def test_sandbox_hides_the_kit_the_data_and_the_network(session, mode):
    if mode != "bwrap":
        pytest.skip("only the bubblewrap sandbox hides files and the network")
    visible = session.call("functional.readable", [str(p) for p in SECRETS]).value
    assert not visible.any(), [str(p) for p, v in zip(SECRETS, visible) if v]
    assert set(session.call("functional.listing", str(ROOT)).value) <= {".venv", ".venv-child"}
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert session.call("functional.connect", server.getsockname()[1]).value == 0


def test_a_hang_costs_only_that_call(session):
    with pytest.raises(StudentError, match="did not finish within 2 s"):
        session.call("functional.hang", timeout=2)
    assert_array_equal(session.call("functional.noisy", np.arange(3.0)).value, [0, 2, 4])


@pytest.mark.parametrize("name, message", [("die", "stopped"), ("exit_quietly", "called sys.exit"),
                                           ("allocate", "MemoryError")])
def test_exits_and_memory_blowups_become_messages(session, name, message):
    with pytest.raises(StudentError, match=message):
        session.call(f"functional.{name}", timeout=20)
    assert_array_equal(session.call("functional.noisy", np.arange(3.0)).value, [0, 2, 4])


def test_printing_does_not_disturb_the_answers(session):
    assert_array_equal(session.call("functional.noisy", np.ones(2)).value, [2, 2])


def probe_line(text):
    return textwrap.dedent(PROBE).splitlines().index(text) + 1


def test_torch_cannot_be_imported_even_by_computed_name(session):
    with pytest.raises(StudentError, match="torch is not allowed"):
        session.call("functional.torch_by_name")
    assert session.banned == [{"kind": "import", "what": "torch",
                               "where": [["functional.py", probe_line('    return importlib.import_module("to" + "rch")')]]}]


def test_an_attempt_is_reported_at_once_and_cannot_be_taken_back(session):
    assert session.call("functional.torch_then_close_the_report_pipe").value == 1
    assert [a["what"] for a in session.banned] == ["torch"]


def test_removing_the_import_guard_does_not_bring_torch(session, mode):
    """Student code runs on the child's own Python (.venv-child: numpy and nothing else), in every
    sandbox mode: with the guard gone, torch is still not there to import. (Where the child has to run
    on the grader's Python, the tripwire refuses torch's files and reports them instead.)"""
    with pytest.raises(StudentError, match="ModuleNotFoundError|torch is not allowed"):
        session.call("functional.torch_without_the_guard")


@pytest.mark.parametrize("name, kind, what", [("start_process", "process", "subprocess.Popen"),
                                              ("read_frame", "frame", "tb_frame"),
                                              ("all_objects", "gc", "gc.get_objects"),
                                              ("trace", "trace", "sys.settrace")])
def test_the_tripwire_refuses_and_reports_the_ways_into_the_grader(session, name, kind, what):
    with pytest.raises(StudentError, match="not allowed"):
        session.call(f"functional.{name}")
    assert [(a["kind"], a["what"]) for a in session.banned] == [(kind, what)]
    assert session.banned[0]["where"][-1][0] == "functional.py"


def test_the_standard_library_still_imports_under_the_tripwire(session):
    assert_array_equal(session.call("functional.stdlib_after_the_tripwire").value, [2, 2, 3, 4])
    assert session.banned == []


def test_time_is_measured_by_the_parent(session):
    reply = session.call("functional.slow_with_frozen_clocks", 0.3)
    assert reply.seconds >= 0.3
    assert session.call("functional.noisy", np.ones(2)).seconds < 5


def test_picked_values_tell_a_view_from_a_copy(session):
    x = np.arange(12.0).reshape(3, 4)
    pick = np.array([[0, 0], [2, 1]])
    view = session.call_and_pick("functional.view_of", x, pick=pick, overwrite=(0, -x), full=True)
    assert view.shape == (3, 2)
    assert_array_equal(view.before, [0.0, 10.0])
    assert_array_equal(view.after, [-0.0, -10.0])
    assert_array_equal(view.full, x[:, ::2])
    copy = session.call_and_pick("functional.copy_of", x, pick=pick, overwrite=(0, -x))
    assert_array_equal(copy.before, [0.0, 10.0])
    assert_array_equal(copy.after, [0.0, 10.0])


def test_not_implemented_reads_as_not_written(session):
    with pytest.raises(NotWritten, match="todo is not written yet"):
        session.call("functional.todo")


def test_monkeypatching_numpy_does_not_change_what_comes_back(session):
    assert_array_equal(session.call("functional.patch_numpy").value, [1.0, 2.0])
    assert_array_equal(session.call("functional.noisy", np.ones(2)).value, [2, 2])


def test_processes_left_behind_are_killed(tmp_path, mode):
    (tmp_path / "functional.py").write_text(textwrap.dedent(PROBE))
    with Session(tmp_path, ["functional"]) as s:
        s.call("functional.leave_process")
        marker = f"MNIST_GRADER_CHILD={s.child.token}".encode()
    time.sleep(0.5)
    left = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "environ").read_bytes().split(b"\0"):
                if (entry / "stat").read_text().split(")")[-1].split()[0] != "Z":
                    left.append(entry.name)
        except OSError:
            pass
    assert left == []
