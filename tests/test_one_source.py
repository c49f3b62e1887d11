"""One definition per fact: each fact the grader, the skeleton and the README share is written in one
place and read from there. A second copy is found here, in the source, before it can drift.

- the contract files, and the functions of functional.py: grader/contract.py;
- the banned packages: grader/sandbox/child.py (BANNED);
- the training settings: grader/training.py (solution/train.py's copy is tests/test_train_script.py's);
- the normalisation constants and the MNIST file names: solution/data.py (the grader loads it, and
  sends the constants to the child);
- the sandbox's default limits: grader/sandbox/limits.py (Limits; the rubric's defaults read them);
- the options that select what to grade: grader/cli.py (SELECTION_OPTIONS, given by parent parsers);
- reading /proc: grader/sandbox/procfs.py;
- the channel's encoding: grader/sandbox/child.py (Encoder, decode; the file format: write_arrays,
  parse_arrays), both ways."""
import ast
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
GRADER = ROOT / "grader"


def sources(folder=None):
    """(path relative to the kit, parsed module) of every Python module under folder (grader/); the
    templates of grader/course/templates/ are text with placeholders, not modules."""
    return [(path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(encoding="utf-8")))
            for path in sorted((folder or GRADER).rglob("*.py")) if "templates" not in path.parts]


def string_collections(tree):
    """The literal tuples, lists and sets of a module, as the sets of the strings they hold."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            yield {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}


def collections_holding(names, allowed):
    """The files (outside `allowed`) with a literal collection holding all of `names`."""
    return [path for path, tree in sources() if path not in allowed
            and any(set(names) <= found for found in string_collections(tree))]


def test_the_contract_files_are_named_only_in_grader_contract():
    from grader import contract, static, submission
    from grader.course import generate, readme
    assert contract.FILES == ("functional.py", "mlp.py", "cnn.py")
    assert generate.CONTRACT_FILES is readme.CONTRACT_FILES is submission.FILES is contract.FILES
    assert static.SUBMISSION_MODULES == set(contract.MODULES)
    assert collections_holding(contract.FILES, {"grader/contract.py"}) == []
    assert collections_holding(contract.MODULES, {"grader/contract.py"}) == []


def test_the_functions_of_functional_py_are_named_only_in_grader_contract():
    from grader import contract, lent, static
    assert static.CONTRACT_FUNCTIONS == set(contract.FUNCTIONAL) == set(lent.SIGNATURES)
    assert collections_holding(contract.FUNCTIONAL, {"grader/contract.py"}) == []


def test_the_readme_lists_the_contract_files_the_grader_reads():
    from grader.contract import FILES
    readme = (ROOT / "assignment" / "README.md").read_text(encoding="utf-8")
    region = readme.split("<!-- BEGIN GENERATED: files -->")[1].split("<!-- END GENERATED -->")[0]
    listed = [line.split("|")[1].strip().strip("`") for line in region.strip().splitlines()[2:]]
    assert listed[:len(FILES)] == list(FILES) and not set(listed[len(FILES):]) & set(FILES)


def test_the_banned_packages_are_listed_only_in_the_child():
    from grader.sandbox.child import BANNED
    assert collections_holding(("torch", "tensorflow"), {"grader/sandbox/child.py"}) == []
    assert {"torch", "torchvision", "torchaudio", "tensorflow", "keras", "jax", "jaxlib"} <= BANNED


def test_the_rubrics_default_limits_are_the_sandboxs():
    from grader.rubric import Rubric
    from grader.sandbox.limits import Limits
    for name in ("processes", "disk_bytes", "cpu_seconds"):
        assert Rubric.__dataclass_fields__[name].default == getattr(Limits(), name)
    found = [path for path, tree in sources() if path == "grader/rubric.py" for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and node.value in (64, 1024, 1500, 2**30)]
    assert found == []


def test_the_batch_size_is_written_only_in_grader_training():
    found = [path for path, tree in sources() if path != "grader/training.py" for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and "batch 128" in node.value]
    assert found == []


def test_the_normalisation_constants_are_written_only_in_solution_data():
    for folder in (GRADER, ROOT / "solution"):
        found = [path for path, tree in sources(folder) if path != "solution/data.py" for node in ast.walk(tree)
                 if isinstance(node, ast.Constant) and node.value in (0.1307, 0.3081)]
        assert found == []


def test_the_mnist_file_names_come_from_solution_data():
    found = [f"{path}:{node.lineno}" for path, tree in sources() for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.endswith("-ubyte")]
    assert found == []


def test_the_selection_options_are_defined_once():
    """--only/--skip/--public come from cli.SELECTION_OPTIONS only; so do --rubric and --data-root for the
    verbs that grade (others, e.g. publish's --data-root for the confusion matrices, say what they use it for)."""
    from grader import cli
    defined = [path for path, tree in sources() for node in ast.walk(tree)
               if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_argument" and node.args
               and isinstance(node.args[0], ast.Constant) and node.args[0].value in ("--only", "--skip", "--public")]
    assert defined == []
    verbs = next(a for a in cli.parser()._actions if a.dest == "verb").choices
    for verb, names in cli.VERB_OPTIONS.items():
        options = {o: a for a in verbs[verb]._actions for o in a.option_strings}
        for name in names:
            assert options[name].help == cli.SELECTION_OPTIONS[name]["help"], (verb, name)


def test_release_takes_the_options_grader_generate_defines():
    from grader import cli
    from grader.course import generate
    args = cli.parser().parse_args(["release", "--check"])
    assert (args.check, args.solution, args.out) == (True, generate.KIT_ROOT / "solution", generate.KIT_ROOT / "assignment")
    assert cli.PLUGGED_VERBS["release"][0] == "grader.course.generate"


def test_only_procfs_reads_proc():
    found = []
    for path, tree in sources():
        if path == "grader/sandbox/procfs.py":
            continue
        mounts = set()          # bubblewrap's ["--proc", "/proc"] mounts a fresh /proc: not a read
        for node in ast.walk(tree):
            if isinstance(node, (ast.List, ast.Tuple)):
                mounts |= {id(b) for a, b in zip(node.elts, node.elts[1:]) if isinstance(a, ast.Constant) and a.value == "--proc"}
        found += [f"{path}:{node.lineno}" for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in mounts
                  and (node.value == "/proc" or node.value.startswith("/proc/"))]
    assert found == []


# ---- the channel's one encoding, both ways -----------------------------------------------------------

def round_trip(values):
    """values as the child receives them: encoded by the grader's Encoder, sent as JSON and an .arr
    file (child.write_arrays), read with child.parse_arrays and decoded by child.decode."""
    import io

    from grader.sandbox.child import decode, parse_arrays, write_arrays
    from grader.sandbox.session import Session
    encoder = Session._encoder()
    specs = json.loads(json.dumps([encoder.encode(value, f"a{i}") for i, value in enumerate(values)]))
    buffer = io.BytesIO()
    write_arrays(buffer, encoder.arrays)
    _, arrays = parse_arrays(buffer.getvalue())
    return [decode(spec, arrays, {"model": "the model"}) for spec in specs]


def test_a_calls_arguments_reach_the_child_as_the_grader_gave_them():
    from grader.sandbox.session import Obj
    x = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    grads = {"W1": np.ones((2, 3)), "b1": np.zeros(3, dtype=np.float32)}
    got = round_trip([x, 3, 0.1, True, None, "text", ["a", "b"], grads, Obj("model")])
    assert got[0].flags.f_contiguous and np.array_equal(got[0], x)       # the layout some checks send
    assert [(type(v), v) for v in got[1:7]] == [(int, 3), (float, 0.1), (bool, True), (type(None), None),
                                                 (str, "text"), (list, ["a", "b"])]
    assert list(got[7]) == ["W1", "b1"] and got[7]["b1"].dtype == np.float32
    assert got[8] == "the model"


def test_the_grader_never_truncates_its_own_arguments():
    long = list(range(40))
    params = {f"W{i}": np.full(1, float(i)) for i in range(40)}
    got_list, got_params = round_trip([long, params])
    assert got_list == long and len(got_params) == 40


def test_the_childs_answers_are_still_bounded():
    from grader.sandbox.child import Encoder
    encoder = Encoder()
    spec = encoder.encode({f"k{i}": np.ones(1) for i in range(40)})
    assert len(spec["items"]) == 32
    assert Encoder().encode(np.zeros(7 * 2**20))["kind"] == "other"       # 56 MB: more than the grader reads
    view = np.asfortranarray(np.ones((3, 4)))
    encoder.encode(view, "x")
    assert encoder.arrays["x"].flags.c_contiguous and encoder.arrays["x"] is not view


def test_procfs_finds_a_child_by_parent_uid_and_environment():
    import os
    import secrets
    import subprocess
    import sys

    from grader.sandbox import procfs
    token = f"MNIST_ONE_SOURCE_PROBE={secrets.token_hex(8)}".encode()
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE,
                             env={"PATH": "/usr/bin:/bin", token.split(b"=")[0].decode(): token.split(b"=")[1].decode()})
    try:
        assert procfs.holding_environment(token) == [child.pid]
        assert child.pid in procfs.children_of(os.getpid()) and procfs.parent_of(child.pid) == os.getpid()
        assert os.getuid() in procfs.uids_of(child.pid) and child.pid in procfs.processes_of(os.getuid())
        assert procfs.cgroups_of(child.pid) == procfs.cgroups_of("self")
    finally:
        child.stdin.close()
        child.wait()
    assert procfs.parent_of(child.pid) is None and procfs.uids_of(child.pid) == set()
