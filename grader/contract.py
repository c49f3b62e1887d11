"""The assignment's contract files, named once: the files a student writes and hands in, in the order
they are documented and graded.

Everything that needs them reads them from here: the submission reader (grader/submission.py), the
skeleton generator and the README's generated regions (grader/generate.py, grader/readme.py), the
static scan, the sandbox's report of where an attempt came from, the reference loader, the command
line's guard against importing a submission, and the course tools. The child process cannot import
this module (it imports only the standard library and numpy): it runs what the grader asks for by
name, and is told the names of the functions it lends. tests/test_one_source.py checks that no other grader module
spells the list out."""

MODULES = ("functional", "mlp", "cnn")
FILES = tuple(module + ".py" for module in MODULES)
# The functions of functional.py: all that mlp.py and cnn.py may take from it (grader/static.py), and
# what the grader lends a submission whose own functional.py is broken (grader/lent.py).
FUNCTIONAL = ("sigmoid", "relu", "softmax", "one_hot", "cross_entropy")
