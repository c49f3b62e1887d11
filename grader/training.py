"""How the accuracy checks train a submission's models (the seed report's settings: plain SGD,
batch 128). A plain table, here rather than in checks/accuracy.py, so that the feedback report can
describe a training run without importing the checks (and, through them, the sandbox)."""

SETTINGS = {
    "mlp": dict(cls="mlp.MLP", input_shape=(784,), lr=0.1, epochs=10),
    "cnn": dict(cls="cnn.CNN", input_shape=(1, 28, 28), lr=0.05, epochs=5),
}
BATCH_SIZE = 128
