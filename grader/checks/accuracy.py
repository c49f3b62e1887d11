"""mlp.accuracy and cnn.accuracy: the grader drives SGD training of the student's model and measures
what it learned, in its own process.

What makes the result the student's own learning, and nothing else:
- the test images never enter the student's process: the child returns the trained `params`
  (validated: the contract's keys and shapes, floats, finite) and the grader computes the test
  predictions here, with the contract's forward (the reference's);
- training uses a secret relabelling drawn per grading (a permutation of the ten classes, undone
  when scoring), so labels or weights known in advance are worth nothing;
- the model starts from the contract's initial draws (set by the grader, so a wrong __init__ costs
  only the init checks), then the child trains in chunks of batches the grader picks (the grader's
  own loop: forward, backward, step, with the contract's settings) and returns `params` after each;
  the grader replays some chunks, chosen secretly, always including the first and the last, from
  the `params` before them with the reference's forward/backward/step and requires the same
  `params` after them. A step that does nothing, a wrong gradient, or weights swapped in at the end
  fail here.

Budget: about 15 s (MLP, 10 epochs) and 25 s (CNN, 5 epochs) for the reference on 1 thread; the
rubric's time limits allow a student's slower but vectorized code several times that."""
import secrets
import time
from functools import partial

import numpy as np

from grader import reference
from grader.checks import check
from grader.errors import CheckFailed
from grader.training import BATCH_SIZE, SETTINGS

CHUNK_BATCHES = (16, 48)       # each request trains on a random number of batches in this range
VERIFIED_CHUNKS = 4            # replayed besides the first and the last
# A replayed chunk must land within this fraction of its own update (a correct implementation with
# other but equivalent formulas lands within about 1e-12 of it; a step that does nothing misses by 1).
REPLAY_RTOL = 1e-4


def reference_model(item):
    """The reference's model with the contract's default settings (seed 0)."""
    return getattr(reference.live_module(item), SETTINGS[item]["cls"].split(".")[1])()


def checked_params(params, shapes, when):
    """The child's params as float64 arrays, or CheckFailed saying what is wrong with them."""
    if not isinstance(params, dict):
        raise CheckFailed(f"{when}, model.params is not a dict; training cannot be scored.")
    if set(params) != set(shapes):
        raise CheckFailed(f"{when}, model.params has the keys {sorted(params)[:8]}; expected {sorted(shapes)}.")
    checked = {}
    for key, shape in shapes.items():
        value = params[key]
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f" or value.shape != shape:
            got = f"{value.dtype} array of shape {value.shape}" if isinstance(value, np.ndarray) else type(value).__name__
            raise CheckFailed(f"{when}, params[{key!r}] is a {got}; expected a float array of shape {shape}.")
        if not np.all(np.isfinite(value)):
            raise CheckFailed(f"{when}, params[{key!r}] holds NaN or infinite values: training diverged. "
                              "Check the other items first: a wrong gradient or step usually shows there.")
        checked[key] = value.astype(np.float64)
    return checked


def normalized(images, shape, data):
    return ((images / 255.0 - data.MEAN) / data.STD).reshape((len(images),) + shape)


def replay(item, params, batches, images, labels, data):
    """params after the reference's SGD steps on the given batches (the grader's own loop)."""
    settings = SETTINGS[item]
    model = reference_model(item)
    model.params = {k: v.copy() for k, v in params.items()}
    eye = np.eye(10)
    for index in batches:
        model.forward(normalized(images[index], settings["input_shape"], data))
        model.step(model.backward(eye[labels[index]]), settings["lr"])
    return model.params


def replay_mismatch(item, before, after, batches, images, labels, data):
    """The first param whose value after SGD steps on these batches is not the reference's replay
    of them from `before`: (key, distance, the replay's own update), or None."""
    want = replay(item, before, batches, images, labels, data)
    for key in want:
        error = np.linalg.norm(after[key] - want[key])
        update = np.linalg.norm(want[key] - before[key])
        if not error <= REPLAY_RTOL * update + 1e-12 * (1.0 + np.linalg.norm(before[key])):
            return key, error, update
    return None


def schedule(rng, epochs, n):
    """The batches of every epoch (index arrays) and their split into chunks (lists of batch numbers)."""
    batches = []
    for _ in range(epochs):
        order = rng.permutation(n)
        batches += [order[begin:begin + BATCH_SIZE] for begin in range(0, n, BATCH_SIZE)]
    chunks, start = [], 0
    while start < len(batches):
        size = int(rng.integers(CHUNK_BATCHES[0], CHUNK_BATCHES[1] + 1))
        chunks.append(range(start, min(start + size, len(batches))))
        start += size
    return batches, chunks


def train_and_score(session, mnist, item, timeout, seed=None):
    """Train a fresh model of the session's code and score it here; returns (accuracy, training record).
    seed=None (grading) draws every secret afresh; an int makes the run reproducible (calibration)."""
    settings = SETTINGS[item]
    data = reference.load_data_module()
    rng = np.random.default_rng(secrets.randbits(128) if seed is None else seed)
    relabel = rng.permutation(10)                    # class c is taught as relabel[c]
    train_images, train_labels = mnist["train_images"], relabel[mnist["train_labels"]]
    batches, chunks = schedule(rng, settings["epochs"], len(train_labels))
    middle = rng.permutation(np.arange(1, len(chunks) - 1))[:VERIFIED_CHUNKS]
    verified = {0, len(chunks) - 1, *middle.tolist()}
    per_epoch = -(-len(train_labels) // BATCH_SIZE)
    params = reference_model(item).params
    shapes = {key: value.shape for key, value in params.items()}
    deadline = time.monotonic() + timeout

    session.start_training(settings["cls"], params, train_images, train_labels, settings["input_shape"],
                           data.MEAN, data.STD, timeout=max(1.0, deadline - time.monotonic()))
    losses, seconds = [], np.zeros(settings["epochs"])
    for number, chunk in enumerate(chunks):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CheckFailed(f"Training did not finish within {timeout:.0f} s ({chunk.start // per_epoch} of "
                              f"{settings['epochs']} epochs done): your forward/backward is too slow.")
        index = np.concatenate([batches[b] for b in chunk])
        ends = np.cumsum([len(batches[b]) for b in chunk])
        start = time.monotonic()
        reply = session.train_steps(index, ends, settings["lr"], timeout=remaining)
        elapsed = time.monotonic() - start
        for b in chunk:                              # seconds per epoch, timed here
            seconds[b // per_epoch] += elapsed / len(chunk)
        step = f"After training step {chunk.stop} of {len(batches)}"
        after = checked_params(reply["params"], shapes, step)
        losses += [float(x) for x in np.asarray(reply["losses"], dtype=float).ravel()[:len(chunk)]]
        if number in verified:
            mismatch = replay_mismatch(item, params, after, [batches[b] for b in chunk], train_images, train_labels, data)
            if mismatch:
                key, error, update = mismatch
                raise CheckFailed(
                    f"{step}, params[{key!r}] is not what {len(chunk)} SGD steps of your model should give: "
                    f"the grader repeated steps {chunk.start + 1}-{chunk.stop} from the params before them, "
                    f"and yours differ by {error:.3g} (the steps themselves moved it by {update:.3g}). "
                    "Training must be forward, backward, then step(grads, lr) with params -= lr * grads, "
                    "updating model.params itself. Check the backward and step items first.")
        params = after

    accuracy, predictions = score(item, params, mnist, relabel, data)
    epoch_loss = [float(np.mean(losses[e * per_epoch:(e + 1) * per_epoch])) for e in range(settings["epochs"])]
    record = {"accuracy": accuracy, "epoch_loss": epoch_loss, "epoch_seconds": seconds.tolist(),
              "predictions": predictions.tolist()}
    if "conv_W" in params:
        record["conv_W"] = params["conv_W"].tolist()        # the learned filters, for the feedback report
    return accuracy, record


def score(item, params, mnist, relabel, data):
    """Test accuracy of params with the reference's forward, computed here in chunks; predictions
    are given back in the true classes."""
    settings = SETTINGS[item]
    model = reference_model(item)
    model.params = params
    taught = np.empty(len(mnist["test_labels"]), dtype=np.int64)
    for begin in range(0, len(taught), 1000):
        images = mnist["test_images"][begin:begin + 1000]
        taught[begin:begin + 1000] = np.argmax(model.forward(normalized(images, settings["input_shape"], data)), axis=1)
    predictions = np.argsort(relabel)[taught]         # undo the relabelling
    return float(np.mean(predictions == mnist["test_labels"])), predictions


def accuracy_check(ctx, item):
    """Train the student's model with the grader's settings (train_and_score) and score it on the test
    set in this process; the points go to a test accuracy at or above the rubric's bar."""
    settings, threshold = SETTINGS[item], ctx.rubric.accuracy[item]["threshold"]
    accuracy, result = train_and_score(ctx.student, ctx.run.mnist(), item, ctx.rubric.accuracy[item]["seconds"])
    ctx.run.training[item] = result
    summary = (f"test accuracy {100 * accuracy:.2f}% after {settings['epochs']} epochs of SGD (lr {settings['lr']}, "
               f"batch {BATCH_SIZE}); {np.mean(result['epoch_seconds']):.1f} s per epoch here.")
    if accuracy < threshold:
        raise CheckFailed(f"{summary} The bar is {100 * threshold:.1f}%. Losses per epoch: "
                          + ", ".join(f"{x:.3f}" for x in result["epoch_loss"])
                          + ". Check the other items first: a wrong gradient or step usually shows there.")
    return summary


for _item in ("mlp", "cnn"):          # the rubric limits training, not a per-check budget
    check(f"{_item}.accuracy: test accuracy after training", group=f"{_item}.accuracy",
          budget=None)(partial(accuracy_check, item=_item))
