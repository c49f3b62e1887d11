"""What the grader must make of each hostile submission in this folder (read by test_submissions.py).

EXPECT[folder] = dict(
    zero=...,   item prefixes whose every check must score 0
    full=...,   item prefixes whose every check must score full marks
    lose=...,   item prefixes that must lose points in at least one check (not necessarily all)
    skip=...,   items passed as --skip (default: both accuracy items, which train for minutes)
    note="...",
)
A prefix is a whole item ("mlp.forward") or a group ending in "." ("cnn."). Items in none of
zero/full/lose are not constrained. Whatever the case, the grader must exit 0 within the time
bound, write a complete report (the same check names as for the reference), leave no process
behind, and never give more than the items outside `zero` are worth.

policy.no_torch has two checks ("no autodiff library", "only allowed imports"): a banned import
loses the first, so the torch cases expect `lose` there, not `zero`. Cases whose hostile code needs
os / sys / subprocess / importlib leave policy.no_torch unconstrained (those imports are not allowed).
"""

FUNCTIONAL = ("functional.",)
FUNCTIONAL_ITEMS = ("functional.sigmoid", "functional.relu", "functional.softmax", "functional.one_hot",
                    "functional.cross_entropy")
MLP_UNITS = ("mlp.init", "mlp.forward", "mlp.backward", "mlp.step")
CNN_UNITS = ("cnn.extract_patches", "cnn.conv2d_forward", "cnn.conv2d_backward", "cnn.init",
             "cnn.forward", "cnn.backward", "cnn.step")
POLICY = ("policy.vectorized", "policy.no_torch")
ACCURACY = ("mlp.accuracy", "cnn.accuracy")


def but(items, *left_out):
    return tuple(i for i in items if i not in left_out)


EXPECT = {
    # ---------------------------------------------------------------------------------- hangs, exits
    "infinite_loop_at_import": dict(
        zero=CNN_UNITS,
        full=FUNCTIONAL + MLP_UNITS + ("policy.no_torch",),
        note="cnn.py hangs at import: every cnn.* check times out. policy.vectorized (which times the "
             "convolution) is not constrained.",
    ),
    "infinite_loop_in_forward": dict(
        zero=("mlp.forward", "mlp.backward"),
        full=FUNCTIONAL + ("mlp.init", "mlp.step") + CNN_UNITS + POLICY,
        note="MLP.forward never returns; backward can only be checked after a forward.",
    ),
    "sys_exit_at_import": dict(
        zero=FUNCTIONAL + ACCURACY,
        full=MLP_UNITS + CNN_UNITS + ("policy.vectorized",),
        skip=(),
        note="functional.py exits at import: its items and the accuracy items (which train the student's "
             "own three files) get 0; the mlp/cnn value and gradient checks run with the reference "
             "functional.py. Exit status 0 must not read as success. Accuracy is cheap here (import fails).",
    ),
    "os_exit_in_backward": dict(
        zero=("mlp.backward",),
        full=FUNCTIONAL + ("mlp.init", "mlp.forward", "mlp.step") + CNN_UNITS + ("policy.vectorized",),
        note="os._exit(0) inside MLP.backward kills the process running it; the grader must recover.",
    ),
    # ---------------------------------------------------------------------------------- fake results
    "prints_fake_results": dict(
        full=FUNCTIONAL + MLP_UNITS + CNN_UNITS + POLICY,
        note="Correct code printing a fake full-score JSON: deserves exactly the reference's marks.",
    ),
    "writes_fake_results": dict(
        full=FUNCTIONAL + MLP_UNITS + CNN_UNITS + POLICY,
        note="Correct code writing fake results.json files: deserves exactly the reference's marks; the "
             "--json file must be the grader's own.",
    ),
    # ---------------------------------------------------------------------------------- banned modules
    "imports_torch_plain": dict(
        zero=("cnn.",),
        lose=("policy.no_torch",),
        full=FUNCTIONAL + MLP_UNITS,
        skip=("mlp.accuracy",),
        note="cnn.py needs torch to import: no cnn.* point, cnn.accuracy included.",
    ),
    "imports_torch_aliased": dict(
        zero=FUNCTIONAL,
        lose=("policy.no_torch",),
        full=MLP_UNITS + CNN_UNITS + ("policy.vectorized",),
        note="functional.py needs torch (as np_) to import; mlp/cnn checks use the reference functional.py.",
    ),
    "imports_torch_in_function": dict(
        zero=("cnn.conv2d_forward", "cnn.forward", "cnn.backward"),
        lose=("policy.no_torch",),
        full=FUNCTIONAL + MLP_UNITS + ("cnn.extract_patches", "cnn.conv2d_backward", "cnn.init", "cnn.step"),
        note="Only conv2d_forward (and the CNN methods that call it) need torch.",
    ),
    "imports_torch_dunder": dict(
        zero=("functional.softmax",),
        lose=("policy.no_torch",),
        full=but(FUNCTIONAL_ITEMS, "functional.softmax") + MLP_UNITS + CNN_UNITS + ("policy.vectorized",),
        note="__import__('to' + 'rch') inside softmax.",
    ),
    "imports_torch_importlib": dict(
        zero=("cnn.conv2d_forward", "cnn.forward", "cnn.backward"),
        lose=("policy.no_torch",),
        full=FUNCTIONAL + MLP_UNITS + ("cnn.extract_patches", "cnn.conv2d_backward", "cnn.init", "cnn.step"),
        note="importlib.import_module with a computed name inside conv2d_forward.",
    ),
    "imports_torch_sys_modules": dict(
        lose=("policy.no_torch",),
        full=but(FUNCTIONAL_ITEMS, "functional.relu") + MLP_UNITS + CNN_UNITS + ("policy.vectorized",),
        note="relu takes torch from sys.modules when present; functional.relu is not constrained.",
    ),
    "imports_tensorflow": dict(
        zero=MLP_UNITS,
        lose=("policy.no_torch",),
        full=FUNCTIONAL + CNN_UNITS + ("policy.vectorized",),
        note="mlp.py needs tensorflow to import.",
    ),
    "imports_jax_from": dict(
        zero=CNN_UNITS,
        lose=("policy.no_torch",),
        full=FUNCTIONAL + MLP_UNITS,
        note="cnn.py needs jax to import.",
    ),
    # ---------------------------------------------------------------------------------- numpy patched
    "numpy_monkeypatched": dict(
        lose=("functional.sigmoid", "functional.softmax"),
        full=("functional.relu", "functional.one_hot", "functional.cross_entropy") + MLP_UNITS + CNN_UNITS + POLICY,
        note="np.allclose, np.isfinite, np.errstate, np.testing.* ... replaced at import; the naive sigmoid's "
             "overflow at -1e4 and the uniform softmax must still be caught.",
    ),
    # ---------------------------------------------------------------------------------- broken files
    "syntax_error": dict(
        zero=MLP_UNITS,
        full=FUNCTIONAL + CNN_UNITS + ("policy.vectorized",),
        note="mlp.py does not parse.",
    ),
    "missing_cnn": dict(
        zero=("cnn.",),
        full=FUNCTIONAL + MLP_UNITS,
        skip=("mlp.accuracy",),
        note="No cnn.py: every cnn.* item 0, cnn.accuracy included; the rest is unaffected.",
    ),
    "returns_nan": dict(
        lose=("mlp.forward",),
        full=FUNCTIONAL + ("mlp.init", "mlp.backward", "mlp.step") + CNN_UNITS + POLICY,
        note="MLP.forward returns NaN; its cache (used by backward) is right.",
    ),
    "returns_none": dict(
        lose=("cnn.conv2d_forward",),
        full=FUNCTIONAL + MLP_UNITS + ("cnn.extract_patches", "cnn.conv2d_backward", "cnn.init", "cnn.step",
                                       "policy.no_torch"),
        note="conv2d_forward returns None; cnn.forward, cnn.backward and policy.vectorized call it and are "
             "not constrained.",
    ),
    "returns_list": dict(
        lose=("mlp.forward",),
        full=FUNCTIONAL + ("mlp.init", "mlp.backward", "mlp.step") + CNN_UNITS + POLICY,
        note="MLP.forward returns a Python list instead of an array.",
    ),
    "memory_blowup": dict(
        zero=("cnn.forward", "cnn.backward"),
        full=FUNCTIONAL + MLP_UNITS + ("cnn.extract_patches", "cnn.conv2d_forward", "cnn.conv2d_backward",
                                       "cnn.init", "cnn.step") + POLICY,
        note="CNN.forward allocates 50 GB first.",
    ),
    # ---------------------------------------------------------------------------------- snooping, processes
    "reads_labels": dict(
        full=FUNCTIONAL + MLP_UNITS + CNN_UNITS + ("policy.vectorized",),
        note="Looks for the test labels and for solution.* / grader.reference; any success makes MLP.forward "
             "visibly wrong, so a lost mlp point means a leak. policy.no_torch is not constrained (os, sys, "
             "__import__).",
    ),
    "kills_parent": dict(
        full=FUNCTIONAL + ("mlp.init", "mlp.step") + CNN_UNITS + ("policy.vectorized",),
        note="os.kill(os.getppid(), 9) in MLP.forward: the grader must survive; mlp.forward and mlp.backward "
             "are not constrained.",
    ),
    "fork_bomb_light": dict(
        full=FUNCTIONAL + MLP_UNITS + CNN_UNITS + ("policy.vectorized",),
        note="Leaves `sleep 1000` running from cnn.py's import; nothing may survive the grader.",
    ),
}
