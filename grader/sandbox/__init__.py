"""The trust boundary: everything that starts, talks to or runs inside the student's process.

- child.py: the only module run in the student's process (standard library and numpy only);
- process.py: starting and stopping that process (sandbox, gate, private folder, cleanup);
- identity.py: a uid of its own for every child in user mode (root without bubblewrap);
- limits.py: limits per submission (control groups, a watcher for files and CPU time);
- procfs.py: what the grader reads of other processes from /proc (uids, parent, environment, groups);
- session.py: the grader's handle on one child (typed requests, capped answers).

Nothing outside this package talks to a child; import-linter contracts (tests/test_architecture.py)
keep it so.
"""
