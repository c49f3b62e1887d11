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


class StudentRaised(StudentError):
    """A call into the student's code raised; exception_type is the name of its type (as the child
    reported it, cleaned: a student may name a class of their own MemoryError)."""

    def __init__(self, message, exception_type=""):
        super().__init__(message)
        self.exception_type = exception_type


class StudentDied(StudentError):
    """The process running the student's code stopped during a call: a limit of the submission's
    (memory, processes, disk, CPU time), os._exit, or a crash."""


class OutOfTime(StudentError):
    """A call into the student's code was not started: too little was left of its check's time, or of
    the submission's (grader/timebudget.py)."""
