"""The time checking one submission may take, in one place: each check's own budget, the
submission's budget for all its checks (the rubric's grading_seconds), and the one rule near the
end of either.

Why a budget per submission on top of each call's own limit: code that is slow in every call
(sleeping just under each limit, say) would otherwise keep the grader busy for an hour; what is left
over fails, named. Training is outside it: the rubric limits each training run itself
(checks/accuracy.py), so the accuracy groups get NO_LIMIT.

The rule: nothing is started with less than START_SECONDS left of its budget, neither a check nor a
call to the student's code inside one: it could only be cut short, and saying so at once is clearer.
Each of the two says it in its own sentence (CHECK_NOT_RUN, CALL_NOT_RUN).
"""
import time
from dataclasses import dataclass

from grader.errors import OutOfTime

CHECK_SECONDS = 30.0        # a check's own budget, unless it registers another (check(..., budget=))
START_SECONDS = 1.0         # with less than this left, a check or a call is not started

CHECK_NOT_RUN = ("Not run: checking your code used up the grading time for one submission before this check. "
                 "The reference needs about 2 s for all the checks; look for sleeps, very slow code or infinite "
                 "loops in the failures above.")
CALL_NOT_RUN = ("This check ran out of time before {call}: your code is too slow here (a Python loop over "
                "samples or pixels?).")


@dataclass(frozen=True)
class TimeBudget:
    """The checks' time for one submission, as the monotonic time it ends (None: no limit)."""
    end: float = None

    @classmethod
    def starting_now(cls, seconds):
        return cls(time.monotonic() + seconds)

    def spent(self, now):
        """Whether a check starting at `now` is not started (CHECK_NOT_RUN says why)."""
        return self.end is not None and self.end - now < START_SECONDS

    def deadline(self, check_seconds, now):
        """The monotonic time by which a check starting at `now` must be done: its own budget
        (check_seconds; None: none), cut to this one. None: no deadline."""
        own = now + check_seconds if check_seconds else None
        if self.end is None:
            return own
        return self.end if own is None else min(own, self.end)


NO_LIMIT = TimeBudget()


def call_timeout(deadline, timeout, call, now=None):
    """The timeout of a call to the student's code starting now (described by `call`, as students read
    it): its own `timeout`, cut to what is left before the check's deadline (None: no deadline).
    Raises OutOfTime when too little is left to start it."""
    if deadline is None:
        return timeout
    left = deadline - (time.monotonic() if now is None else now)
    if left < START_SECONDS:
        raise OutOfTime(CALL_NOT_RUN.format(call=call))
    return min(timeout, left)
