"""`python -m grader ...`: the same as the command `mnist-grader ...`, with one difference to know.

`python -m` puts the current folder first on sys.path. Started from inside a submission, the
submission's files could stand in for modules the grader imports next (an argparse.py, a json.py),
so the current folder leaves sys.path here, before anything else is imported, unless it is the kit
itself (a checkout run without an install). What cannot be helped from here: a `grader/` folder in
the current folder is imported instead of this package, and this file never runs. So from inside a
folder you do not trust, run `mnist-grader` (a console script: its own folder comes first on
sys.path, never the current one) or `python -P -m grader` (Python 3.11+).
"""
import os
import sys


def drop_current_folder():
    kit = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cwd = os.path.realpath(os.getcwd())
    if cwd != os.path.realpath(kit):
        sys.path[:] = [p for p in sys.path if os.path.realpath(p or os.curdir) != cwd]


drop_current_folder()

from grader.cli import main  # noqa: E402  (after the current folder is gone)

raise SystemExit(main())
