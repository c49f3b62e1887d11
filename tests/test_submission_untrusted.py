"""Submissions as an attacker builds them: links into the reference or the rubric, a linked folder, a
hard link, a named pipe, /dev/zero, a huge sparse file, and zips whose members are damaged, encrypted,
oddly compressed, links, or lie about their size. A refused file costs exactly its own checks, with a
sentence saying why; the grader never reads, runs or echoes a byte of it, and always writes a report."""
import csv
import json
import os
import resource
import struct
import subprocess
import sys
import zipfile

import pytest

import gradertools as gt
from grader.rubric import load_rubric
from grader.submission import MAX_FILE_BYTES, load_submission

FILES = gt.CONTRACT_FILES
ONLY = ("functional.sigmoid", "mlp.forward")


# ------------------------------------------------------------------------------------ helpers

@pytest.fixture
def load():
    """load_submission in this process; the private copies are removed afterwards."""
    loaded = []

    def run(path):
        loaded.append(load_submission(path))
        return loaded[-1]
    yield run
    for submission in loaded:
        submission.cleanup()


# The peak is VmHWM, the high-water mark since exec (ru_maxrss would count the pytest process this
# one was forked from: Linux keeps it across exec).
LOADER = """
import json, sys
from grader.submission import load_submission
submission = load_submission(sys.argv[1])
submission.cleanup()
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"problems": submission.problems, "present": submission.present, "maxrss_mb": peak / 1024}))
"""


def load_in_a_process(path, timeout=60):
    """load_submission in a fresh Python limited to 1 GiB of address space, which must finish within
    `timeout` (a pipe opened for reading would block forever): its problems, files and peak memory."""
    def limit_memory():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    proc = subprocess.run([sys.executable, "-c", LOADER, str(path)], cwd=gt.ROOT, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=limit_memory)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def reference_copy(tmp_path, without=()):
    submission = gt.copy_submission(gt.SOLUTION, tmp_path / "submission")
    for name in without:
        (submission / name).unlink()
    return submission


def solution_lines(name):
    """The reference's own code in file `name` (inside ### BEGIN/END SOLUTION), long lines only."""
    lines, inside = [], False
    for line in (gt.SOLUTION / name).read_text().splitlines():
        if "### BEGIN SOLUTION" in line or "### END SOLUTION" in line:
            inside = "BEGIN" in line
        elif inside and len(line.strip()) >= 16:
            lines.append(line.strip())
    assert len(lines) > 5, name
    return lines


def leaked(run, lines):
    """The lines that appear in what the grader wrote or printed."""
    seen = run.stdout + run.stderr + json.dumps(run.results)
    return [line for line in lines if line in seen]


def refused_only(submission, name, reason):
    """`name` refused with a sentence containing `reason`, read from nowhere; the other files read."""
    assert submission.sources[name] is None
    assert reason in submission.problems[name], submission.problems
    assert not (submission.folder / name).exists()
    assert set(submission.present) == set(FILES) - {name}, submission.problems


# ------------------------------------------------------------------------------------ folders

@pytest.mark.parametrize("target", ["/proc/self/cwd/solution/{}", str(gt.SOLUTION) + "/{}"])
def test_links_to_the_reference_are_refused(tmp_path, load, target):
    submission = tmp_path / "submission"
    submission.mkdir()
    for name in FILES:
        (submission / name).symlink_to(target.format(name))
    loaded = load(submission)
    assert loaded.present == []
    for name in FILES:
        assert loaded.problems[name] == f"{name} is a symbolic link; submit the file itself."
    assert list(loaded.folder.iterdir()) == []


def test_a_submission_of_links_to_the_reference_scores_zero_and_shows_none_of_it(tmp_path):
    """What a student got 112/112 with: three links through /proc/self/cwd, the grader's folder."""
    submission = tmp_path / "submission"
    submission.mkdir()
    for name in FILES:
        (submission / name).symlink_to(f"/proc/self/cwd/solution/{name}")
    run = gt.run_grader(submission, tmp_path / "results.json", skip=gt.ACCURACY_ITEMS)
    assert not gt.run_problems(run, gt.ACCURACY_ITEMS), gt.describe(run)
    assert run.results["score"] == 0, gt.describe(run)
    for test in run.results["tests"]:
        if not test["name"].startswith("policy."):
            file = test["name"].split(".")[0] + ".py"
            assert f"{file} is a symbolic link; submit the file itself." in test["output"], test
    for name in FILES:
        assert leaked(run, solution_lines(name)) == []


def test_a_link_to_the_rubric_is_refused_and_never_printed(tmp_path):
    """The "does not parse" message used to quote the linked rubric's lines back."""
    submission = reference_copy(tmp_path, without=["functional.py"])
    rubric = gt.ROOT / "grader" / "rubric.toml"
    (submission / "functional.py").symlink_to(rubric)
    run = gt.run_grader(submission, tmp_path / "results.json", only=ONLY)
    assert run.returncode == 0 and run.results, gt.describe(run)
    by_item = gt.tests_by_item(run.results)
    for test in by_item["functional.sigmoid"]:
        assert gt.is_zero(test) and "functional.py is a symbolic link" in test["output"], test
    assert all(gt.is_full(test) for test in by_item["mlp.forward"]), gt.describe(run)
    lines = [line.strip() for line in rubric.read_text().splitlines() if len(line.strip()) >= 20]
    assert leaked(run, lines) == []


def test_a_linked_subfolder_is_not_entered_and_the_message_says_so(tmp_path, load):
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "hw2").symlink_to(gt.SOLUTION, target_is_directory=True)
    loaded = load(submission)
    assert loaded.present == []
    for name in FILES:
        assert f"{name} is missing" in loaded.problems[name]
        assert "does not follow symbolic links" in loaded.problems[name] and "hw2" in loaded.problems[name]


def test_a_hard_link_to_a_file_outside_is_refused(tmp_path, load):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "functional.py").write_bytes((gt.SOLUTION / "functional.py").read_bytes())
    submission = reference_copy(tmp_path, without=["functional.py"])
    os.link(outside / "functional.py", submission / "functional.py")
    refused_only(load(submission), "functional.py", "functional.py is a hard link")


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path):
    submission = reference_copy(tmp_path, without=["functional.py"])
    os.mkfifo(submission / "functional.py")
    loaded = load_in_a_process(submission)
    assert loaded["problems"]["functional.py"] == ("functional.py is a named pipe, not a regular file; "
                                                   "submit the file itself.")
    assert loaded["present"] == ["mlp.py", "cnn.py"]


def test_a_link_to_dev_zero_is_refused(tmp_path):
    submission = reference_copy(tmp_path, without=["cnn.py"])
    (submission / "cnn.py").symlink_to("/dev/zero")
    loaded = load_in_a_process(submission)
    assert loaded["problems"]["cnn.py"] == "cnn.py is a symbolic link; submit the file itself."
    assert loaded["present"] == ["functional.py", "mlp.py"]


def test_a_huge_sparse_file_is_refused_without_reading_it(tmp_path):
    """3 GiB of holes: the grader used to read it whole (3.2 GB peak); now it stops at the size."""
    submission = reference_copy(tmp_path, without=["functional.py"])
    with open(submission / "functional.py", "wb") as f:
        f.truncate(3 << 30)
    loaded = load_in_a_process(submission)
    assert loaded["problems"]["functional.py"] == "functional.py is larger than 1 MB; is it the right file?"
    assert loaded["present"] == ["mlp.py", "cnn.py"]
    assert loaded["maxrss_mb"] < 64, loaded


def test_a_real_file_deeper_is_read_when_the_top_one_is_a_link(tmp_path, load):
    """Refusing a link must not cost a student whose real file sits one folder down."""
    submission = tmp_path / "submission"
    gt.copy_submission(gt.SOLUTION, submission / "hw2")
    (submission / "functional.py").symlink_to("hw2/functional.py")
    loaded = load(submission)
    assert loaded.present == list(FILES) and loaded.problems == {}
    assert loaded.sources["functional.py"] == (gt.SOLUTION / "functional.py").read_text()


def test_a_refused_file_is_named_with_printable_characters_only(tmp_path, load):
    """A folder name is the student's too: a terminal escape or a byte that is not UTF-8 is shown as '?'."""
    submission = reference_copy(tmp_path, without=["functional.py"])
    folder = os.fsencode(submission) + b"/hw\xff\x1b[2J"
    os.mkdir(folder)
    os.symlink(os.fsencode(gt.SOLUTION / "functional.py"), folder + b"/functional.py")
    refused_only(load(submission), "functional.py", "hw??[2J/functional.py is a symbolic link; submit the file itself.")


def test_the_batch_refuses_a_student_entry_that_is_a_link(tmp_path):
    """A student folder in the submissions folder that links to the reference: an error row, not 112/112."""
    subs = tmp_path / "submissions"
    subs.mkdir()
    (subs / "eve").symlink_to(gt.SOLUTION, target_is_directory=True)
    proc = subprocess.run([sys.executable, "-m", "grader", "batch", str(subs), "--out", str(tmp_path / "out"),
                           "--skip", "mlp.accuracy", "--skip", "cnn.accuracy"],
                          cwd=gt.ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "out" / "grades.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert rows["eve"]["status"] == "error" and rows["eve"]["score"] == "", rows
    assert rows["eve"]["message"].startswith("eve is a symbolic link;"), rows


# ------------------------------------------------------------------------------------ zips

CENTRAL = {"flags": (8, "<H"), "method": (10, "<H"), "size": (24, "<I")}     # offsets in PK\1\2 headers
LOCAL = {"flags": (6, "<H"), "method": (8, "<H"), "size": (22, "<I")}        # offsets in PK\3\4 headers


def reference_zip(path, compression=zipfile.ZIP_STORED, replace=None):
    """A zip of the reference's three files; replace: {name: ZipInfo-or-name, bytes} to put instead."""
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name in FILES:
            if replace and name in replace:
                archive.writestr(*replace[name])
            else:
                archive.writestr(name, (gt.SOLUTION / name).read_bytes())
    return path


def patch_member(path, name, **fields):
    """Overwrite header fields (flags, method, size) of member `name`, in its local and central headers."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        local = archive.getinfo(name).header_offset
    central = data.find(b"PK\x01\x02")
    while data[central + 46:central + 46 + len(name)] != name.encode():
        central = data.find(b"PK\x01\x02", central + 1)
        assert central >= 0, name
    for field, value in fields.items():
        for start, table in ((local, LOCAL), (central, CENTRAL)):
            offset, layout = table[field]
            struct.pack_into(layout, data, start + offset, value)
    path.write_bytes(bytes(data))
    return path


def test_a_member_with_a_bad_crc_is_refused(tmp_path, load):
    archive = reference_zip(tmp_path / "hw2.zip")
    data = archive.read_bytes()
    at = data.index(b"def sigmoid")                    # in functional.py, stored as is
    archive.write_bytes(data[:at] + b"DEF" + data[at + 3:])
    refused_only(load(archive), "functional.py", "functional.py in the zip is damaged")


def test_an_encrypted_member_is_refused(tmp_path, load):
    archive = patch_member(reference_zip(tmp_path / "hw2.zip"), "mlp.py", flags=0x1)
    refused_only(load(archive), "mlp.py", "mlp.py in the zip is encrypted (password-protected)")


def test_a_member_in_an_unsupported_compression_is_refused(tmp_path, load):
    archive = patch_member(reference_zip(tmp_path / "hw2.zip"), "cnn.py", method=9)
    refused_only(load(archive), "cnn.py", "cnn.py in the zip is compressed with Deflate64")


def test_a_symbolic_link_member_is_refused(tmp_path, load):
    link = zipfile.ZipInfo("functional.py")
    link.create_system = 3                            # unix: external_attr holds st_mode
    link.external_attr = 0o120777 << 16              # S_IFLNK | rwxrwxrwx, as `zip -y` stores a link
    target = "/proc/self/cwd/solution/functional.py"
    archive = reference_zip(tmp_path / "hw2.zip", replace={"functional.py": (link, target)})
    refused_only(load(archive), "functional.py", "functional.py in the zip is a symbolic link")


def test_a_member_larger_than_its_header_says_is_not_inflated(tmp_path, load):
    """The header says the reference's size; the data inflates to 20 MB: only the declared bytes are read."""
    source = (gt.SOLUTION / "functional.py").read_bytes()
    archive = reference_zip(tmp_path / "hw2.zip", zipfile.ZIP_DEFLATED,
                            replace={"functional.py": ("functional.py", source + b"#" * 20_000_000)})
    patch_member(archive, "functional.py", size=len(source))
    refused_only(load(archive), "functional.py", "functional.py in the zip is damaged")


def test_a_bzip2_bomb_member_is_refused_before_inflating(tmp_path):
    """bzip2 and LZMA decompress without a bound in zipfile: 100 MB of zeros in 100 bytes, declared 1 KB."""
    bomb = zipfile.ZipInfo("functional.py")
    bomb.compress_type = zipfile.ZIP_BZIP2
    archive = reference_zip(tmp_path / "hw2.zip", replace={"functional.py": (bomb, bytes(100_000_000))})
    patch_member(archive, "functional.py", size=1000)
    with zipfile.ZipFile(archive) as opened:
        assert opened.getinfo("functional.py").compress_size < 1000
    loaded = load_in_a_process(archive)
    assert "functional.py in the zip is compressed with bzip2" in loaded["problems"]["functional.py"]
    assert loaded["present"] == ["mlp.py", "cnn.py"]
    assert loaded["maxrss_mb"] < 64, loaded


def test_a_member_declared_over_the_cap_is_not_read(tmp_path, load):
    archive = reference_zip(tmp_path / "hw2.zip", zipfile.ZIP_DEFLATED,
                            replace={"mlp.py": ("mlp.py", b"#" * (MAX_FILE_BYTES + 1))})
    refused_only(load(archive), "mlp.py", "mlp.py in the zip is larger than 1 MB")


@pytest.mark.parametrize("damage", ["truncated", "not_a_zip"])
def test_a_zip_that_cannot_be_opened_gets_a_complete_report(tmp_path, damage):
    archive = reference_zip(tmp_path / "hw2.zip")
    data = archive.read_bytes()
    archive.write_bytes(data[:len(data) // 2] if damage == "truncated" else b"this is not a zip file\n")
    run = gt.run_grader(archive, tmp_path / "results.json", skip=gt.ACCURACY_ITEMS)
    assert run.returncode == 0 and run.results, gt.describe(run)
    assert "Traceback" not in run.stdout + run.stderr
    want = [row.id for row in load_rubric().select(skip=gt.ACCURACY_ITEMS)]
    assert [test["name"] for test in run.results["tests"]] == want
    assert run.results["score"] == 0
    for test in run.results["tests"]:
        if not test["name"].startswith("policy."):
            assert "hw2.zip is not a zip file that can be opened" in test["output"], test
