"""mlp.accuracy and cnn.accuracy: the grader trains the student's model with its own SGD loop
(the seed report's settings) in the child, gets test-set probabilities back for images in a
secret order, and counts correct answers here, where the labels are.

Budget: about 15 s (MLP, 10 epochs) and 25 s (CNN, 5 epochs) for the reference on 1 thread;
the rubric's time limits allow a student's slower but vectorized code several times that."""
import secrets

import numpy as np

from grader.checks import check
from grader.errors import CheckFailed
from grader.training import SETTINGS


def train_and_score(session, mnist, item, timeout, seed=0):
    """Train a fresh model of the session's code and score it here; returns (accuracy, training record)."""
    settings = SETTINGS[item]
    order = np.random.default_rng(secrets.randbits(64)).permutation(len(mnist["test_labels"]))
    data = {"train_images": mnist["train_images"], "train_labels": mnist["train_labels"],
            "test_images": mnist["test_images"][order]}
    result = session.train(settings["cls"], data, timeout=timeout, seed=seed, batch_size=128,
                           input_shape=settings["input_shape"], lr=settings["lr"], epochs=settings["epochs"])
    probs = result.get("test_probs") if isinstance(result, dict) else None
    if not isinstance(probs, np.ndarray) or probs.shape != (len(order), 10):
        raise CheckFailed(f"After training, forward on the test images returned "
                          f"{getattr(probs, 'shape', type(probs).__name__)}; expected ({len(order)}, 10).")
    predictions = np.empty(len(order), dtype=np.int64)
    predictions[order] = np.argmax(np.nan_to_num(probs, nan=-1.0), axis=1)
    accuracy = float(np.mean(predictions == mnist["test_labels"]))
    record = {"accuracy": accuracy, "epoch_loss": result["epoch_loss"].tolist(),
              "epoch_seconds": result["epoch_seconds"].tolist(), "predictions": predictions.tolist()}
    params = result.get("params")
    if isinstance(params, dict) and isinstance(params.get("conv_W"), np.ndarray):
        record["conv_W"] = params["conv_W"].tolist()        # the learned filters, for the feedback report
    return accuracy, record


def register(item):
    settings = SETTINGS[item]

    @check(f"{item}.accuracy: test accuracy after training", budget=None)   # the rubric limits training
    def accuracy_check(ctx):
        threshold = ctx.rubric.accuracy[item]["threshold"]
        accuracy, result = train_and_score(ctx.student, ctx.shared["mnist"](), item, ctx.rubric.accuracy[item]["seconds"])
        ctx.shared[f"{item}.training"] = result
        summary = (f"test accuracy {100 * accuracy:.2f}% after {settings['epochs']} epochs of SGD (lr {settings['lr']}, "
                   f"batch 128); {np.mean(result['epoch_seconds']):.1f} s per epoch here.")
        if accuracy < threshold:
            raise CheckFailed(f"{summary} The bar is {100 * threshold:.1f}%. Losses per epoch: "
                              + ", ".join(f"{x:.3f}" for x in result["epoch_loss"])
                              + ". Check the other items first: a wrong gradient or step usually shows there.")
        return summary


register("mlp")
register("cnn")
