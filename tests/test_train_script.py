"""train.py as a student runs it: it says how many BLAS threads it uses, prints the seconds per epoch,
and ends with the accuracy reached against the grader's bar and the settings the grader trains with."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

import train
from grader.rubric import load_rubric
from grader.training import SETTINGS as GRADER_SETTINGS, BATCH_SIZE as GRADER_BATCH_SIZE

ROOT = Path(__file__).resolve().parent.parent


def history(kind, accuracies, lr=None, seconds=1.25):
    settings = {"lr": train.SETTINGS[kind]["lr"] if lr is None else lr, "epochs": len(accuracies)}
    h = train.History(model=kind, settings=settings, init_stats={})
    h.test_acc = list(accuracies)
    h.epoch_time = [seconds] * len(accuracies)
    return h


def test_train_py_trains_with_the_grader_settings_and_knows_the_rubric_bars():
    rubric = load_rubric()
    assert train.BARS == {kind: rubric.accuracy[kind]["threshold"] for kind in ("mlp", "cnn")}
    assert train.BATCH_SIZE == GRADER_BATCH_SIZE
    for kind in ("mlp", "cnn"):
        assert train.SETTINGS[kind] == {"lr": GRADER_SETTINGS[kind]["lr"], "epochs": GRADER_SETTINGS[kind]["epochs"]}


def test_the_summary_gives_accuracy_bar_verdict_and_seconds_per_epoch():
    histories = {"mlp": history("mlp", [0.90] * 9 + [0.9571]), "cnn": history("cnn", [0.95] * 4 + [0.9551])}
    lines = train.summary_lines(histories, {"mlp": 0.942, "cnn": 0.962}, "the course's default rubric")
    assert lines[0] == ("  mlp: test accuracy 95.71% after 10 epochs; the bar is 94.2%: clears it. "
                        "1.25 s per epoch.")
    assert lines[1] == ("  cnn: test accuracy 95.51% after 5 epochs; the bar is 96.2%: 0.69 points short. "
                        "1.25 s per epoch.")
    assert "secret relabelling" in lines[-1] and "estimate" in lines[-1]


def test_the_summary_says_when_the_run_did_not_use_the_grader_settings():
    lines = train.summary_lines({"cnn": history("cnn", [0.97], lr=0.2)}, {"cnn": 0.962}, "x")
    assert "The grader trains 5 epochs at lr 0.05; this run used other settings." in lines[0]


def test_bars_come_from_the_kit_beside_solution_first():
    bars, source = train.accuracy_bars()
    assert source == str(ROOT / "grader" / "rubric.toml") and bars == train.BARS


def test_bars_come_from_the_installed_grader_rubric_when_there_is_one(monkeypatch, tmp_path):
    (tmp_path / "grader").mkdir()
    (tmp_path / "grader" / "__init__.py").write_text("")
    (tmp_path / "grader" / "rubric.toml").write_text("[accuracy.mlp]\nthreshold = 0.5\n[accuracy.cnn]\nthreshold = 0.6\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "grader", raising=False)
    monkeypatch.setattr(train, "__file__", str(tmp_path / "hw" / "train.py"))     # a student's folder
    bars, source = train.accuracy_bars()
    assert bars == {"mlp": 0.5, "cnn": 0.6} and source == str(tmp_path / "grader" / "rubric.toml")


def test_bars_fall_back_to_the_default_rubric_without_a_grader(monkeypatch):
    monkeypatch.setattr(train.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(train, "__file__", "/nowhere/hw/train.py")
    assert train.accuracy_bars() == (train.BARS, "the course's default rubric")


def test_one_epoch_run_prints_threads_seconds_and_ends_with_the_bar(tmp_path):
    """The real script on real MNIST, one epoch of the MLP: what a student sees."""
    if not (ROOT / "data" / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file():
        pytest.skip("MNIST is not in data/ (python data_scripts/fetch_mnist.py)")
    done = subprocess.run([sys.executable, str(ROOT / "solution" / "train.py"), "--model", "mlp", "--epochs", "1",
                           "--no-progress", "--data-root", str(ROOT / "data"), "--out", str(tmp_path / "runs")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert re.match(r"BLAS threads: \d+ \(\d+ CPUs? usable here", lines[0])
    assert re.match(r"epoch 1/1 .* time=[\d.]+s", lines[1])
    assert re.match(r"  mlp: test accuracy \d+\.\d\d% after 1 epoch; the bar is \d+\.\d%: [\d.]+ points short\. "
                    r"[\d.]+ s per epoch\. \(The grader trains 10 epochs at lr 0\.1; this run used other settings\.\)$",
                    lines[-2]), lines[-2]
    assert lines[-1].startswith("  Bars from ") and "secret relabelling" in lines[-1]
