"""Shared fixtures. In the test process `functional`, `mlp`, `cnn` are the reference (solution/)."""
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solution"
if str(SOLUTION) not in sys.path:
    sys.path.insert(0, str(SOLUTION))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
