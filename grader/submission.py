"""Find the three files of a submission (a folder or a .zip of one) and read their sources.

Never raises for a bad submission: what is missing or unreadable is recorded in Submission.problems
and costs exactly the checks that need it."""
import io
import shutil
import tempfile
import tokenize
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader.errors import GraderError

FILES = ("functional.py", "mlp.py", "cnn.py")
MAX_FILE_BYTES = 1_000_000


@dataclass
class Submission:
    source: Path                       # what the user named (folder or zip)
    folder: Path                       # a private copy holding only the three files that exist
    sources: dict = field(default_factory=dict)    # file name -> text, or None when missing
    problems: dict = field(default_factory=dict)   # file name -> sentence for the student

    @property
    def present(self):
        return [name for name in FILES if self.sources.get(name) is not None]

    def cleanup(self):
        shutil.rmtree(self.folder, ignore_errors=True)


def load_submission(path):
    path = Path(path)
    if not path.exists():
        raise GraderError(f"{path} does not exist. Give a folder or a .zip holding {', '.join(FILES)}.")
    folder = Path(tempfile.mkdtemp(prefix="mnist-submission-"))
    submission = Submission(path, folder)
    if path.is_dir():
        found = {name: locate(path, name) for name in FILES}
        for name, file in found.items():
            if file is not None:
                store(submission, name, file.read_bytes()[:MAX_FILE_BYTES + 1])
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            members = {}
            for info in archive.infolist():
                base = member_path(info).name
                if base in FILES and not info.is_dir() and "__MACOSX" not in info.filename:
                    if base not in members or len(member_path(info).parts) < len(member_path(members[base]).parts):
                        members[base] = info
            for name, info in members.items():
                if info.file_size > MAX_FILE_BYTES:
                    submission.problems[name] = f"{name} in the zip is larger than 1 MB; is it the right file?"
                    continue
                store(submission, name, archive.read(info))
    else:
        raise GraderError(f"{path} is neither a folder nor a .zip file.")
    for name in FILES:
        if name not in submission.sources and name not in submission.problems:
            submission.problems[name] = (f"{name} is missing from the submission: put {', '.join(FILES)} side by side "
                                         "at the top of the folder or zip.")
        submission.sources.setdefault(name, None)
    return submission


def member_path(info):
    """A zip member's path; zips made on Windows may separate folders with backslashes."""
    return PurePosixPath(info.filename.replace("\\", "/"))


def locate(folder, name):
    """The file at the top of the folder, or (a zip unpacked into a subfolder) the shallowest one."""
    if (folder / name).is_file():
        return folder / name
    candidates = sorted((p for p in folder.rglob(name) if p.is_file() and "__MACOSX" not in p.parts),
                        key=lambda p: len(p.parts))
    return candidates[0] if candidates else None


def store(submission, name, data):
    if len(data) > MAX_FILE_BYTES:
        submission.problems[name] = f"{name} is larger than 1 MB; is it the right file?"
        return
    try:
        # what Python itself would read: UTF-8 (with or without a BOM), or a "# -*- coding: ... -*-" line
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError):
        submission.problems[name] = f"{name} is not UTF-8 text; save it as UTF-8."
        return
    (submission.folder / name).write_bytes(data)       # as written: Python decodes it the same way
    submission.sources[name] = text
