"""Find the three files of a submission (a folder or a .zip of one) and read their sources.

Everything inside a submission is untrusted bytes written by the student. The path the instructor
names (a folder or a .zip) is trusted; what is in it is not. So the grader reads only regular files
that are really inside the submission, and never more than a bounded number of bytes of each:
- in a folder, files are opened relative to a folder handle, without following symbolic links
  (O_NOFOLLOW, and sub-folders are entered one level at a time the same way). A link, a named pipe,
  a device or a socket is refused, and so is a hard link (the same file under a second name, which
  may be outside the submission: the reference, the rubric). Sizes are checked with fstat on the
  open file before reading, and at most MAX_FILE_BYTES + 1 bytes are read.
- in a zip, a member that is a link, encrypted, compressed with a method other than stored or
  deflate (whose decompressors inflate without a bound), larger than the cap or damaged (bad CRC,
  cut short) is refused; members are read through a bounded read, so a header that lies about the
  size cannot make the grader inflate more than the cap.
A refused file is that file's problem: its checks score 0 with a sentence saying why and how to fix
it, and no byte of it is read, run or echoed. A zip that cannot be opened at all costs every check,
with a report all the same.

Never raises for a bad submission: what is missing, refused or unreadable is recorded in
Submission.problems and costs exactly the checks that need it."""
import io
import os
import stat
import tokenize
import zipfile
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader import tempfolders
from grader.contract import FILES
from grader.errors import GraderError

MAX_FILE_BYTES = 1_000_000
MAX_ENTRIES = 100_000          # folder entries looked at while searching sub-folders for the files
ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)     # what every zip tool writes by default
METHOD_NAMES = {1: "Shrink", 6: "Implode", 8: "deflate", 9: "Deflate64", 12: "bzip2", 14: "LZMA",
                93: "Zstandard", 95: "XZ", 98: "PPMd", 99: "AES encryption"}
KINDS = {stat.S_IFIFO: "a named pipe", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a device",
         stat.S_IFBLK: "a device", stat.S_IFDIR: "a folder"}
FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class Refused(Exception):
    """A file the grader will not read; str() is the sentence the student reads."""


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
        tempfolders.remove(self.folder)


def load_submission(path):
    path = Path(path)
    if not path.exists():
        raise GraderError(f"{path} does not exist. Give a folder or a .zip holding {', '.join(FILES)}.")
    if path.is_dir():
        read = read_folder
    elif path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
        read = read_zip
    else:
        raise GraderError(f"{path} is neither a folder nor a .zip file.")
    submission = Submission(path, tempfolders.make("mnist-submission-"))
    hint = read(path, submission)
    for name in FILES:
        if name not in submission.sources and name not in submission.problems:
            submission.problems[name] = (f"{name} is missing from the submission: put {', '.join(FILES)} side by side "
                                         f"at the top of the folder or zip.{hint}")
        submission.sources.setdefault(name, None)
    return submission


def choose(submission, name, candidates):
    """Store the first candidate that can be read (they come shallowest first); when none can,
    record why the first was refused. candidates: functions returning bytes or raising Refused."""
    refusal = None
    for read in candidates:
        try:
            data = read()
        except Refused as exc:
            refusal = refusal or str(exc)
            continue
        return store(submission, name, data)
    if refusal:
        submission.problems[name] = refusal


def store(submission, name, data):
    try:
        # what Python itself would read: UTF-8 (with or without a BOM), or a "# -*- coding: ... -*-" line
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError):
        submission.problems[name] = f"{name} is not UTF-8 text; save it as UTF-8."
        return
    (submission.folder / name).write_bytes(data)       # as written: Python decodes it the same way
    submission.sources[name] = text


def shown(path):
    """A path from the submission as it may appear in a message: printable characters only (names may
    hold terminal escapes, or bytes that are not UTF-8), and not too long."""
    text = "".join(c if c.isprintable() else "?" for c in str(path))      # lone surrogates are not printable
    return text if len(text) <= 200 else text[:100] + "..." + text[-97:]


def too_large(label):
    return Refused(f"{label} is larger than 1 MB; is it the right file?")


# ------------------------------------------------------------------------------------ a folder

def read_folder(path, submission):
    """Read the three files of folder `path`; returns a hint for the "missing" message."""
    top = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)   # the instructor's path: may be a link
    try:
        found, links = search_folder(top)
        for name in FILES:
            choose(submission, name, [lambda rel=rel: read_folder_file(top, rel) for rel in found[name]])
    finally:
        os.close(top)
    if not links:
        return ""
    named = ", ".join(shown(link) for link in links[:3]) + (", ..." if len(links) > 3 else "")
    return (f" The grader does not follow symbolic links, which your submission has ({named}): submit the "
            "folders and files themselves, not links to them.")


def search_folder(top):
    """({name: [relative paths of entries so named]}, [symbolic links met]): the files at the top,
    or (a zip unpacked into a sub-folder) deeper, shallowest first; __MACOSX and links to folders are
    not entered. Breadth first, in name order, stopping after MAX_ENTRIES entries."""
    found, links = {name: [] for name in FILES}, []
    queue, seen = deque([PurePosixPath()]), 0
    while queue and seen < MAX_ENTRIES:
        rel = queue.popleft()
        try:
            fd = open_folder(top, rel)
        except OSError:                     # gone, unreadable, or no longer a folder
            continue
        try:
            with os.scandir(fd) as listing:
                entries = []
                for entry in listing:
                    entries.append(entry)
                    seen += 1
                    if seen >= MAX_ENTRIES:
                        break
            for entry in sorted(entries, key=lambda e: e.name):
                child = rel / entry.name
                if entry.name in FILES and not entry.is_dir(follow_symlinks=False):
                    found[entry.name].append(child)          # whatever it is: read_folder_file decides
                elif entry.is_symlink():
                    links.append(child)
                elif entry.is_dir(follow_symlinks=False) and entry.name != "__MACOSX":
                    queue.append(child)
        except OSError:
            pass
        finally:
            os.close(fd)
    return found, links


def open_folder(top, rel):
    """A new handle on sub-folder rel of top, entered one level at a time, never through a link."""
    fd = os.dup(top)
    for part in rel.parts:
        try:
            inner = os.open(part, FOLDER_FLAGS, dir_fd=fd)
        finally:
            os.close(fd)
        fd = inner
    return fd


def read_folder_file(top, rel):
    """The bytes of regular file rel (relative to top), or Refused saying why not."""
    label = shown(rel)
    try:
        parent = open_folder(top, rel.parent)
    except OSError as exc:
        raise Refused(f"{label} cannot be opened ({exc.strerror}); submit it again.")
    try:
        try:
            before = os.stat(rel.name, dir_fd=parent, follow_symlinks=False)
        except OSError as exc:
            raise Refused(f"{label} cannot be opened ({exc.strerror}); submit it again.")
        refuse_special(label, before)            # before opening: opening a pipe or a device is an action
        try:
            fd = os.open(rel.name, FILE_FLAGS, dir_fd=parent)
        except OSError as exc:
            raise Refused(f"{label} cannot be opened ({exc.strerror}); submit it again.")
    finally:
        os.close(parent)
    try:
        info = os.fstat(fd)
        refuse_special(label, info)              # what was opened, in case it was swapped meanwhile
        if (info.st_dev, info.st_ino) != (before.st_dev, before.st_ino):
            raise Refused(f"{label} changed while the grader was reading it; submit it again.")
        if info.st_nlink > 1:
            raise Refused(f"{label} is a hard link (the same file also has another name, maybe outside your "
                          "submission); submit a copy of the file itself.")
        if info.st_size > MAX_FILE_BYTES:
            raise too_large(label)
        chunks, left = [], MAX_FILE_BYTES + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise Refused(f"{label} cannot be read ({exc.strerror}); submit it again.")
    finally:
        os.close(fd)
    if left <= 0:                                # it grew past the cap after fstat
        raise too_large(label)
    return b"".join(chunks)


def refuse_special(label, info):
    if stat.S_ISLNK(info.st_mode):
        raise Refused(f"{label} is a symbolic link; submit the file itself.")
    if not stat.S_ISREG(info.st_mode):
        raise Refused(f"{label} is {kind_of(info.st_mode)}; submit the file itself.")


def kind_of(mode):
    kind = KINDS.get(stat.S_IFMT(mode))
    return f"{kind}, not a regular file" if kind else "not a regular file"


# ------------------------------------------------------------------------------------ a zip

def read_zip(path, submission):
    """Read the three files of zip `path`; returns a hint for the "missing" message."""
    try:
        archive = zipfile.ZipFile(path)
    except Exception:            # whatever a damaged archive makes zipfile raise (BadZipFile, OSError, ...)
        for name in FILES:
            submission.problems[name] = (f"{shown(path.name)} is not a zip file that can be opened (it is damaged, cut "
                                         "short, or not a zip at all), so none of your files could be graded; "
                                         "make the zip again and resubmit it.")
        return ""
    with archive:
        members = {name: [] for name in FILES}
        for index, info in enumerate(archive.infolist()):
            parts = member_path(info).parts
            if parts and parts[-1] in FILES and not info.is_dir() and "__MACOSX" not in parts:
                members[parts[-1]].append((len(parts), index, info))
        for name in FILES:
            choose(submission, name, [lambda info=info: read_member(archive, info)
                                      for _, _, info in sorted(members[name], key=lambda m: m[:2])])
    return ""


def member_path(info):
    """A zip member's path; zips made on Windows may separate folders with backslashes."""
    return PurePosixPath(info.filename.replace("\\", "/"))


def read_member(archive, info):
    """The bytes of a zip member, at most the cap, or Refused saying why not."""
    label = f"{shown(member_path(info))} in the zip"
    kind = stat.S_IFMT(info.external_attr >> 16)         # unix file type, when the zip tool stored one
    if kind == stat.S_IFLNK:
        raise Refused(f"{label} is a symbolic link; put the file itself in the zip.")
    if kind and kind != stat.S_IFREG:
        raise Refused(f"{label} is {kind_of(kind)}; put the file itself in the zip.")
    if info.flag_bits & 0x1:
        raise Refused(f"{label} is encrypted (password-protected); make the zip again without a password.")
    if info.compress_type not in ZIP_METHODS:
        method = METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
        raise Refused(f"{label} is compressed with {method}, which the grader does not read; make the zip "
                      "again with the usual compression (deflate), e.g. with \"Compress\" in your file manager.")
    if info.file_size > MAX_FILE_BYTES:
        raise too_large(label)
    try:
        with archive.open(info) as member:
            data = member.read(MAX_FILE_BYTES + 1)      # at most file_size bytes come out, CRC checked at the end
    except Exception:            # BadZipFile (bad CRC, cut short), zlib.error, EOFError, ...: a damaged member
        raise Refused(f"{label} is damaged (it does not decompress to what the zip says it holds); make the zip "
                      "again and resubmit it.") from None
    if len(data) > MAX_FILE_BYTES:
        raise too_large(label)
    return data
