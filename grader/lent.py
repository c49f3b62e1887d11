"""The reference's functional.py lent to a submission whose own is broken, so that a bug there costs
only the functional checks: the child's `functional` module asks this process (see
sandbox/child.py, lent_module) and gets arrays back. No reference code or bytecode ever enters the
student's process.

Only the five contract functions are answered, on arrays of numbers of bounded size; anything else
is refused with a message that the child raises in the student's code."""
import numpy as np

from grader import reference
from grader.sandbox.process import CallbackRefused

MAX_ELEMENTS = 4_000_000          # per argument: far above anything the models checks pass
MAX_CLASSES = 1000
SIGNATURES = {                    # function -> (number of array arguments, allowed keyword arguments)
    "sigmoid": (1, ()), "relu": (1, ()), "softmax": (1, ()),
    "one_hot": (1, ("num_classes",)), "cross_entropy": (2, ("eps",)),
}


def answer(name, arrays):
    """functional.<name>(*arrays) computed by the reference, after checking the arguments."""
    if name not in SIGNATURES:
        raise CallbackRefused(f"functional has no function {name[:40]!r}")
    count, keywords = SIGNATURES[name]
    args = [arrays.pop(f"a{i}") for i in range(len(arrays)) if f"a{i}" in arrays]
    kwargs = {key[2:]: value for key, value in arrays.items() if key.startswith("k_")}
    if not 1 <= len(args) <= count + len(keywords) or set(kwargs) - set(keywords):
        raise CallbackRefused(f"{name}() got arguments it does not take")
    for position, keyword in enumerate(keywords, start=count):    # keywords given by position
        if position < len(args):
            kwargs[keyword] = args.pop(position)
    for value in args:
        if value.size > MAX_ELEMENTS:
            raise CallbackRefused(f"{name}() got an array of shape {value.shape}, too large")
    if any(value.ndim != 0 for value in kwargs.values()):
        raise CallbackRefused(f"{name}() takes a single number for {', '.join(keywords)}")
    kwargs = {key: value.item() for key, value in kwargs.items()}
    if name == "one_hot":
        classes = kwargs.get("num_classes", 10)
        if not isinstance(classes, int) or not 1 <= classes <= MAX_CLASSES or args[0].ndim != 1:
            raise CallbackRefused("one_hot(labels, num_classes) takes labels of shape (N,) and a small num_classes")
    try:
        return np.asarray(getattr(reference.functional, name)(*args, **kwargs))
    except Exception as exc:
        raise CallbackRefused(f"{name}() raised {type(exc).__name__}: {str(exc)[:200]}")
