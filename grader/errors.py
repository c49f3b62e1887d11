"""Exceptions whose str() is the sentence a user reads."""


class GraderError(Exception):
    """The grader itself cannot run (bad arguments, missing data). Exit code 2."""


class CheckFailed(Exception):
    """A check's expectation was not met. The message is shown to the student."""


class NotWritten(CheckFailed):
    """The student's function still raises NotImplementedError."""


class StudentError(CheckFailed):
    """The student's code raised, hung, died or could not be imported."""


class StudentTimeout(StudentError):
    """A call into the student's code did not finish within its time (now, or earlier in this run)."""


class OutOfTime(StudentError):
    """A call into the student's code was not started: too little was left of its check's time, or of
    the submission's (grader/timebudget.py)."""
