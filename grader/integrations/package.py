"""Not written yet (issue 5)."""


def add_arguments(parser):
    pass


def run(args):
    raise SystemExit("not written yet")
