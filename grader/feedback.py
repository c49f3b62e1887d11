"""The student's feedback report for one graded submission: feedback.md (with sibling PNG files) and
feedback.html (one self-contained file: images as data URIs, no scripts, no external resources).

    md_path, html_path = write_feedback(report, "feedback/", data_root=None, stage="open")

It shows the checks grouped by contract item and, for each model the accuracy checks trained, the
training curve against the reference's (grader/reference_training.json, recorded once by
benchmarks/reference_curves.py), the confusion matrix, the first misclassified test digits and, for
the CNN, the learned filters. Everything is drawn here, in the grader's process, from the Report's
training record and the MNIST test set; no student code runs and nothing is trained.

What it shows follows each check's visibility, as on Gradescope, at the course's stage (STAGES):
"visible" checks always, "after_due_date" ones once the due date has passed, "after_published" ones
once grades are published, "hidden" ones never. A check not shown is not there at all: no name, no
status, no points, not counted in its item's "Passed" cell; an item with no check shown is left out,
and a model's training section goes with its accuracy item. The score line says only that other
checks exist. `mnist-grader publish` rewrites the reports from the stored Reports when the stage
changes; show_hidden (for instructors) shows everything.
"""
import base64
import html
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader.formats import write_atomically
from grader.formats.escape import markdown, markdown_code
from grader.text import clean, clean_name
from grader.training import BATCH_SIZE, SETTINGS

REFERENCE_CURVES = Path(__file__).with_name("reference_training.json")
MODELS = {"mlp": "MLP", "cnn": "CNN"}
FIGURE_KINDS = ("curves", "confusion", "misclassified", "filters")
MARKS = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "not_implemented": "TODO"}
# The visibilities a student may see at each stage of the course (Gradescope's rules).
STAGES = {
    "open": ("visible",),                                              # before the due date
    "due": ("visible", "after_due_date"),                              # the due date has passed
    "published": ("visible", "after_due_date", "after_published"),     # grades are published
}
DEFAULT_STAGE = "open"
MISCLASSIFIED_SHOWN = 24
DPI = 150           # pixels per inch of the PNGs; the HTML shows them at 100 CSS px per inch (sharp on phones)


# ------------------------------------------------------------------------------------ the content

@dataclass
class CheckLine:
    id: str
    status: str
    points: str                 # "1 / 1"
    message: str = ""           # the hint; empty when passed


@dataclass
class Item:
    name: str
    score: str                  # "5 / 7"
    passed: int
    total: int
    checks: list


@dataclass
class Picture:
    name: str                   # file name of the PNG, a sibling of feedback.md
    alt: str
    caption: str
    png: bytes
    width: int                  # CSS pixels
    height: int


@dataclass
class ModelSection:
    title: str
    paragraphs: list = field(default_factory=list)
    pictures: list = field(default_factory=list)


@dataclass
class Feedback:
    title: str
    score_line: str
    items: list
    models: list
    notes: list


def write_feedback(report, out_dir, data_root=None, show_hidden=False, stage=DEFAULT_STAGE):
    """Write feedback.md, feedback.html and the PNGs into out_dir; returns (markdown_path, html_path).
    stage: "open", "due" or "published" (STAGES), which checks the student may see;
    show_hidden: show every check, "hidden" ones too (for instructors)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    feedback = build_feedback(report, data_root, show_hidden, stage)
    pictures = [p for section in feedback.models for p in section.pictures]
    for picture in pictures:
        write_atomically(out_dir / picture.name, picture.png)
    written = {p.name for p in pictures}
    for model in MODELS:                     # drop the pictures of an earlier run that this one has not
        for kind in FIGURE_KINDS:
            name = picture_name(model, kind)
            if name not in written:
                (out_dir / name).unlink(missing_ok=True)
    markdown_path, html_path = out_dir / "feedback.md", out_dir / "feedback.html"
    write_atomically(markdown_path, to_markdown(feedback))
    write_atomically(html_path, to_html(feedback))
    return markdown_path, html_path


def shown_to(stage=DEFAULT_STAGE, show_hidden=False):
    """A CheckResult -> bool: whether the report shows that check."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; one of {', '.join(STAGES)}")
    return lambda result: show_hidden or result.visibility in STAGES[stage]


def build_feedback(report, data_root=None, show_hidden=False, stage=DEFAULT_STAGE):
    is_shown = shown_to(stage, show_hidden)
    shown = [r for r in report.results if is_shown(r)]
    score = sum(t.score for t in shown)
    total = sum(t.max_score for t in shown)
    score_line = f"Score: {score:g} / {total:g}"
    if len(shown) < len(report.results):    # how many, or which, is not said
        score_line += " on the checks shown here; your course also grades checks not shown here"
    test_set = TestSet(data_root)
    reference = load_reference_curves()
    models = [model_section(report, model, test_set, reference, is_shown) for model in MODELS]
    notes = [f"Graded in {report.execution_time:.1f} s."] + [clean(note) for note in report.notes]
    return Feedback(f"Feedback for {clean_name(Path(report.submission).name or report.submission)}", score_line,
                    group_checks(shown), [m for m in models if m is not None], notes)


def group_checks(results):
    """The checks shown, grouped by contract item in report order."""
    items = {}
    for result in results:
        items.setdefault(result.item, []).append(result)
    grouped = []
    for name, results in items.items():
        lines = []
        for r in results:
            message = clean(r.message) if r.status != "passed" else ""
            if r.status == "not_implemented" and not message:
                message = "Not written yet."
            lines.append(CheckLine(clean(r.id), r.status, f"{r.score:g} / {r.max_score:g}", message))
        grouped.append(Item(clean(name), f"{sum(r.score for r in results):g} / {sum(r.max_score for r in results):g}",
                            sum(r.status == "passed" for r in results), len(results), lines))
    return grouped


# ------------------------------------------------------------------------------------ training data

class TestSet:
    """The MNIST test images and labels, read on first use; .problem says why they could not be."""

    def __init__(self, data_root):
        self.data_root, self._arrays, self.problem = data_root, None, ""

    def arrays(self):
        if self._arrays is None and not self.problem:
            try:
                from grader import reference
                data = reference.load_data_module()
                raw = data.find_root(Path(self.data_root) if self.data_root else None) / "MNIST" / "raw"
                images_file, labels_file = data.FILES["test"]
                images = data.read_idx(raw / images_file).reshape(-1, 28, 28)
                labels = data.read_idx(raw / labels_file).astype(np.int64)
                self._arrays = images, labels
            except (OSError, ValueError) as exc:
                self.problem = f"the MNIST test set could not be read here ({str(exc).splitlines()[0]})"
        return self._arrays


def comparable_settings(model):
    """The training settings a reference curve must share with the student's to be drawn beside it."""
    return {"lr": SETTINGS[model]["lr"], "epochs": SETTINGS[model]["epochs"]}


def load_reference_curves(path=None):
    """{model: [runs]} from reference_training.json, keeping only models recorded with today's settings."""
    try:
        document = json.loads(Path(path or REFERENCE_CURVES).read_text())
        return {model: entry["runs"] for model, entry in document["models"].items()
                if model in MODELS and entry.get("settings") == comparable_settings(model) and entry["runs"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def model_section(report, model, test_set, reference, is_shown):
    """The training section of one model, or None when its accuracy checks are not shown (the
    section belongs to them: the accuracy, the curves and the mistakes say how they went)."""
    title = f"Training: {MODELS[model]}"
    name = MODELS[model]
    checks = [r for r in report.results if r.item == f"{model}.accuracy"]
    record = (report.extras.get("training") or {}).get(model)
    if not checks:
        return ModelSection(title, [f"The {name} was not trained in this run (its accuracy check was skipped), "
                                    "so there are no training plots."])
    if not all(map(is_shown, checks)):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("epoch_loss"), list):
        return ModelSection(title, [f"The grader could not train your {name} to the end (see {checks[0].id} "
                                    "above), so there are no training plots."])
    section = ModelSection(title)
    settings = SETTINGS[model]
    runs = reference.get(model, [])
    accuracy = record.get("accuracy")
    sentence = (f"The grader trained your {name} for {settings['epochs']} epochs of SGD "
                f"(lr {settings['lr']}, batch {BATCH_SIZE})")
    if isinstance(accuracy, (int, float)):
        sentence += f"; its test accuracy is {100 * accuracy:.2f}%"
        if runs:
            sentence += f" (the reference: {100 * runs[0]['accuracy']:.2f}%)"
    section.paragraphs.append(sentence + ".")
    losses = finite_or_nan(record["epoch_loss"])
    bad = [str(i + 1) for i, x in enumerate(losses) if np.isnan(x)]
    if bad:
        section.paragraphs.append(f"Your training loss was not a finite number (NaN or inf) in epoch "
                                  f"{', '.join(bad)}: look for an overflow in exp or a log of 0.")
    section.pictures.append(curves_picture(model, losses, runs))
    arrays = test_set.arrays()
    predictions = np.asarray(record.get("predictions", []))
    if arrays is None:
        section.paragraphs.append(f"No confusion matrix or misclassified digits: {test_set.problem}.")
    elif (predictions.shape != arrays[1].shape or predictions.dtype.kind not in "iu"
          or not np.isin(predictions, np.arange(10)).all()):
        section.paragraphs.append("No confusion matrix: the predictions do not match the test set.")
    else:
        images, labels = arrays
        confusion = np.bincount(labels * 10 + predictions, minlength=100).reshape(10, 10)
        mistakes = sorted(((confusion[t, p], t, p) for t in range(10) for p in range(10) if t != p), reverse=True)
        common = [f"{t} read as {p} ({n} times)" for n, t, p in mistakes[:3] if n > 0]
        if common:
            section.paragraphs.append("Your most frequent mistakes: " + "; ".join(common) + ".")
        section.pictures.append(confusion_picture(model, confusion))
        section.pictures.append(misclassified_picture(model, images, labels, predictions))
    if model == "cnn" and "conv_W" in record:
        conv_W = np.asarray(record["conv_W"], dtype=float) if is_numeric_nest(record["conv_W"]) else None
        if conv_W is not None and conv_W.ndim == 4 and conv_W.size and np.isfinite(conv_W).all():
            section.pictures.append(filters_picture(model, conv_W))
        else:
            section.paragraphs.append("Your trained conv_W is not a finite array of shape (F, C, kh, kw), "
                                      "so its filters are not drawn.")
    return section


def finite_or_nan(values):
    out = []
    for x in values:
        try:
            x = float(x)
        except (TypeError, ValueError):
            x = float("nan")
        out.append(x if np.isfinite(x) else float("nan"))
    return np.array(out, dtype=float)


def is_numeric_nest(value):
    try:
        np.asarray(value, dtype=float)
        return True
    except (TypeError, ValueError):
        return False


# ------------------------------------------------------------------------------------ the pictures

def picture_name(model, kind):
    return f"feedback_{model}_{kind}.png"


def new_figure(width, height, layout="constrained"):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure       # no pyplot, no global state
    fig = Figure(figsize=(width, height), layout=layout)
    FigureCanvasAgg(fig)
    return fig


def mosaic(panels, rows, cols, gap, top):
    """The panels (equal-shaped 2-D arrays) laid out row by row in one array, NaN between them:
    `gap` cells left and right of each panel, `top` cells above it for its caption. A grid of
    panels drawn as one image on one axes takes a tenth of the time of one axes per panel.
    Returns the array and the (x, y) data coordinates of each panel's caption (bottom centre)."""
    h, w = panels[0].shape
    cell_h, cell_w = h + top, w + 2 * gap
    out = np.full((rows * cell_h, cols * cell_w), np.nan)
    captions = []
    for i, panel in enumerate(panels):
        r, c = divmod(i, cols)
        out[r * cell_h + top:(r + 1) * cell_h, c * cell_w + gap:c * cell_w + gap + w] = panel
        captions.append((c * cell_w + cell_w / 2 - 0.5, r * cell_h + top - 0.5 - 0.1 * top))
    return out, captions


def grid_axes(fig, title_inches, right_inches=0.0):
    """One axes filling the figure below a title band and left of a right band (for a colour bar),
    with no frame or ticks."""
    width, height = fig.get_size_inches()
    ax = fig.add_axes((0.0, 0.0, 1.0 - right_inches / width, 1.0 - title_inches / height))
    ax.set_axis_off()
    return ax


def to_picture(fig, model, kind, alt, caption):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    width, height = fig.get_size_inches()
    return Picture(picture_name(model, kind), alt, caption, buffer.getvalue(),
                   round(width * 100), round(height * 100))


def curves_picture(model, losses, runs):
    name = MODELS[model]
    fig = new_figure(6.4, 3.6)
    ax = fig.subplots()
    epochs = np.arange(1, len(losses) + 1)
    if runs:
        curves = [r["epoch_loss"] for r in runs]
        n = min(len(c) for c in curves)
        stacked = np.array([c[:n] for c in curves], dtype=float)
        ref_epochs = np.arange(1, n + 1)
        if len(runs) > 1:
            seeds = ", ".join(str(r["seed"]) for r in runs)
            ax.fill_between(ref_epochs, stacked.min(axis=0), stacked.max(axis=0), color="0.8",
                            label=f"reference, shuffle seeds {seeds}")
        ax.plot(ref_epochs, stacked[0], "s--", color="0.35", markersize=7, label=f"reference (seed {runs[0]['seed']})")
    ax.plot(epochs, losses, "o-", color="tab:red", linewidth=1.5, markersize=4, label="your model (seed 0)")
    values = np.concatenate([losses] + [np.asarray(r["epoch_loss"], dtype=float) for r in runs])
    values = values[np.isfinite(values)]
    if values.size and (values > 0).all():
        from matplotlib.ticker import FuncFormatter
        ax.set_yscale("log")                           # the late epochs' differences stay visible
        wide = values.max() / values.min() > 8         # then label only the minor ticks at 2 and 5
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))    # 0.2, not 2 x 10^-1
        ax.yaxis.set_minor_formatter(FuncFormatter(
            lambda y, _: f"{y:g}" if not wide or f"{y:.0e}"[0] in "25" else ""))
    ax.set(xlabel="epoch", ylabel="mean training loss (cross-entropy)", title=f"{name}: training loss per epoch")
    ax.set_xticks(epochs if len(epochs) else [1])
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    caption = (f"{name} training loss per epoch (mean over the epoch's batches), yours against the reference "
               "trained by the same loop." if runs else
               f"{name} training loss per epoch (mean over the epoch's batches); no reference curve is recorded.")
    return to_picture(fig, model, "curves", f"{name} training loss per epoch, yours"
                      + (" and the reference's" if runs else ""), caption)


def confusion_picture(model, confusion):
    name = MODELS[model]
    fig = new_figure(5.2, 4.6, layout=None)       # fixed margins: a layout engine would draw it twice
    ax = fig.add_axes((0.4 / 5.2, 0.42 / 4.6, 3.95 / 5.2, 3.95 / 4.6))
    errors = confusion.astype(float)
    np.fill_diagonal(errors, np.nan)                   # mistakes in red, scaled to the worst one
    ax.imshow(np.eye(10), cmap="Greys", vmin=0, vmax=8)     # light grey diagonal underneath
    image = ax.imshow(np.ma.masked_invalid(errors), cmap="Reds", vmin=0, vmax=max(np.nanmax(errors), 1))
    worst = max(np.nanmax(errors), 1)
    for t in range(10):
        for p in range(10):
            n = confusion[t, p]
            if n or t == p:
                dark = t != p and n > 0.6 * worst
                ax.text(p, t, str(n), ha="center", va="center", fontsize=7,
                        fontweight="bold" if t == p else "normal", color="white" if dark else "black")
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted digit", ylabel="true digit",
           title=f"{name} confusion matrix ({confusion.trace():,} / {confusion.sum():,} right)")
    ax.tick_params(length=0)
    fig.colorbar(image, cax=fig.add_axes((4.5 / 5.2, 0.8 / 4.6, 0.14 / 5.2, 3.2 / 4.6)), label="mistakes")
    caption = (f"{name} confusion matrix on the 10,000 test digits: row = true digit, column = the {name}'s "
               "answer. The diagonal counts the right answers; red cells are mistakes.")
    return to_picture(fig, model, "confusion", f"{name} confusion matrix", caption)


def misclassified_picture(model, images, labels, predictions):
    name = MODELS[model]
    wrong = np.flatnonzero(predictions != labels)[:MISCLASSIFIED_SHOWN]
    ncols = 6
    nrows = max(1, -(-len(wrong) // ncols))
    fig = new_figure(6.0, 1.05 * nrows + 0.45, layout=None)
    ax = grid_axes(fig, 0.45)
    panels = [np.asarray(images[index], dtype=float) for index in wrong] or [np.zeros((28, 28))]
    grid, captions = mosaic(panels, nrows, ncols, gap=6, top=14)       # a 40 x 42 cell: 1 x 1.05 inches
    ax.imshow(np.ma.masked_invalid(grid), cmap="gray_r", vmin=0, vmax=255, aspect="equal", interpolation="nearest")
    for (x, y), index in zip(captions, wrong):
        ax.text(x, y, f"{labels[index]} \u2192 {predictions[index]}", fontsize=10, ha="center", va="bottom")
    if not len(wrong):
        ax.text(0, 0.5, "No test digit is misclassified.", fontsize=11, transform=ax.transAxes)
    fig.suptitle(f"{name}: the first {len(wrong)} misclassified test digits (true \u2192 predicted)", fontsize=11,
                 y=1 - 0.08 / fig.get_size_inches()[1], va="top")
    total = int(np.sum(predictions != labels))
    caption = (f"The first {len(wrong)} of the {total:,} test digits your {name} got wrong, in test-set order; "
               "each is captioned true digit \u2192 your model's answer.")
    return to_picture(fig, model, "misclassified", f"{len(wrong)} misclassified test digits", caption)


def filters_picture(model, conv_W):
    F, C, kh, kw = conv_W.shape
    panels = [(f, c) for f in range(F) for c in range(C)][:64]
    ncols = min(len(panels), 4)
    nrows = -(-len(panels) // ncols)
    limit = float(np.max(np.abs(conv_W))) or 1.0
    width, height = 1.4 * ncols + 1.0, 1.5 * nrows + 0.4
    fig = new_figure(width, height, layout=None)
    ax = grid_axes(fig, 0.4, right_inches=1.0)
    scale = -(-21 // max(kh, kw))                  # each weight a scale x scale block: room for thin gaps
    blocks = [np.kron(conv_W[f, c], np.ones((scale, scale))) for f, c in panels]
    per_inch = scale * max(kh, kw) / 1.3           # a panel is 1.3 inches across, its caption 0.2 high
    grid, captions = mosaic(blocks, nrows, ncols, gap=max(1, round(0.05 * per_inch)), top=round(0.2 * per_inch))
    image = ax.imshow(np.ma.masked_invalid(grid), cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="equal",
                      interpolation="nearest")
    for (x, y), (f, c) in zip(captions, panels):
        ax.text(x, y, f"filter {f}" if C == 1 else f"filter {f}, channel {c}", fontsize=9, ha="center", va="bottom")
    bar = fig.add_axes((1 - 0.75 / width, 0.5 - 0.4 * (height - 0.4) / height, 0.12 / width, 0.8 * (height - 0.4) / height))
    fig.colorbar(image, cax=bar, label="weight")
    fig.suptitle(f"CNN conv_W after training ({' x '.join(map(str, conv_W.shape))})", fontsize=11,
                 y=1 - 0.06 / height, va="top")
    caption = ("Your CNN's learned filters, one panel each, all on one colour scale (red positive, blue "
               "negative). Edge and stroke detectors usually show as a red/blue split.")
    return to_picture(fig, model, "filters", f"the CNN's {F} learned filters", caption)


# ------------------------------------------------------------------------------------ Markdown

def to_markdown(feedback):
    """Student text (names, messages, notes) is escaped or fenced: it shows as text, never as markup."""
    lines = [f"# {markdown(feedback.title)}", "", f"**{markdown(feedback.score_line)}**", "", "## Results by item", "",
             "| Item | Score | Passed |", "| --- | ---: | ---: |"]
    lines += [f"| {markdown_code(item.name)} | {markdown(item.score)} | {item.passed} / {item.total} |"
              for item in feedback.items]
    lines += ["", "## Checks", ""]
    for item in feedback.items:
        lines += [f"### {markdown_code(item.name)}: {markdown(item.score)}", ""]
        for check in item.checks:
            detail = f"({markdown(check.points)})"
            lines.append(f"- **{MARKS.get(check.status, check.status)}** {markdown_code(check.id)} {detail}")
            if check.message:
                fence = "`" * max(3, 1 + max((len(run) for run in re.findall("`+", check.message)), default=0))
                lines += ["", f"  {fence}text"] + [f"  {line}" for line in check.message.splitlines()] + [f"  {fence}"]
                lines.append("")
        lines.append("")
    for section in feedback.models:
        lines += [f"## {section.title}", ""]
        for paragraph in section.paragraphs:
            lines += [paragraph, ""]
        for picture in section.pictures:
            lines += [f"![{picture.alt}]({picture.name})", "", f"*{picture.caption}*", ""]
    lines += ["## About this run", ""] + [f"- {markdown(note)}" for note in feedback.notes] + [""]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ HTML

STYLE = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body { margin: 0; background: #f3f4f6; color: #1f2328;
       font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", Arial, sans-serif; }
main { max-width: 56rem; margin: 0 auto; padding: 1rem 1rem 2rem; background: #fff; min-height: 100vh; }
h1 { font-size: 1.5rem; line-height: 1.25; margin: .5rem 0; overflow-wrap: anywhere; }
h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; padding-bottom: .25rem; border-bottom: 1px solid #d0d7de; }
.score { font-size: 1.1rem; font-weight: 600; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; }
code { font-size: .9em; overflow-wrap: anywhere; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f8fa; border: 1px solid #d0d7de;
      border-radius: 6px; padding: .5rem .75rem; margin: .4rem 0 0; font-size: .82rem; line-height: 1.45; }
.table-wrap { overflow-x: auto; -webkit-overflow-scrolling: touch; border: 1px solid #d0d7de; border-radius: 6px; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: .4rem .7rem; border-bottom: 1px solid #eaeef2; text-align: left; white-space: nowrap; }
th { background: #f6f8fa; font-size: .9rem; }
tr:last-child td { border-bottom: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.lost td:first-child { box-shadow: inset 3px 0 #cf222e; }
details { border: 1px solid #d0d7de; border-radius: 6px; margin: .5rem 0; }
summary { cursor: pointer; padding: .5rem .75rem; font-weight: 600; overflow-wrap: anywhere; }
summary .pts { float: right; font-weight: 400; font-variant-numeric: tabular-nums; margin-left: 1rem; }
details[open] summary { border-bottom: 1px solid #eaeef2; }
ul.checks { list-style: none; margin: 0; padding: .25rem .75rem .5rem; }
ul.checks li { padding: .35rem 0; border-bottom: 1px solid #f0f2f4; }
ul.checks li:last-child { border-bottom: 0; }
.meta { color: #59636e; font-size: .85rem; white-space: nowrap; }
.badge { display: inline-block; min-width: 3.4rem; padding: 0 .4rem; margin-right: .35rem; border-radius: 1rem;
         text-align: center; font-size: .75rem; font-weight: 700; line-height: 1.6; vertical-align: .1em; }
.passed { background: #dafbe1; color: #116329; }
.failed { background: #ffebe9; color: #a40e26; }
.error { background: #fff8c5; color: #7d4e00; }
.not_implemented { background: #eaeef2; color: #424a53; }
figure { margin: 1.25rem 0; }
img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { color: #59636e; font-size: .9rem; margin-top: .35rem; }
.notes { color: #59636e; font-size: .9rem; padding-left: 1.2rem; }
@media (max-width: 30rem) { main { padding: .75rem .75rem 2rem; } body { font-size: 15px; } }
"""
# No scripts, and nothing from anywhere but the page itself (images are data: URIs).
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def to_html(feedback):
    e = html.escape
    out = ["<!doctype html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
           f"<title>{e(feedback.title)}</title>", f"<style>{STYLE}</style>", "</head>", "<body>", "<main>",
           f"<h1>{e(feedback.title)}</h1>", f'<p class="score">{e(feedback.score_line)}</p>',
           "<h2>Results by item</h2>", '<div class="table-wrap"><table>',
           '<thead><tr><th scope="col">Item</th><th scope="col" class="num">Score</th>'
           '<th scope="col" class="num">Passed</th></tr></thead>', "<tbody>"]
    for item in feedback.items:
        lost = ' class="lost"' if item.passed < item.total else ""
        out.append(f"<tr{lost}><td><code>{e(item.name)}</code></td><td class=\"num\">{e(item.score)}</td>"
                   f'<td class="num">{item.passed} / {item.total}</td></tr>')
    out += ["</tbody></table></div>", "<h2>Checks</h2>",
            "<p>Items where a check did not pass are open; tap any item to show or hide its checks.</p>"]
    for item in feedback.items:
        is_open = " open" if item.passed < item.total else ""
        out.append(f'<details{is_open}><summary><code>{e(item.name)}</code> '
                   f'<span class="pts">{e(item.score)}</span></summary><ul class="checks">')
        for check in item.checks:
            detail = check.points
            line = (f'<li><span class="badge {e(check.status)}">{e(MARKS.get(check.status, check.status))}</span>'
                    f'<code>{e(check.id)}</code> <span class="meta">({e(detail)})</span>')
            if check.message:
                line += f"<pre>{e(check.message)}</pre>"
            out.append(line + "</li>")
        out.append("</ul></details>")
    for section in feedback.models:
        out.append(f"<h2>{e(section.title)}</h2>")
        out += [f"<p>{e(paragraph)}</p>" for paragraph in section.paragraphs]
        for picture in section.pictures:
            data = base64.b64encode(picture.png).decode("ascii")
            out.append(f'<figure><img src="data:image/png;base64,{data}" width="{picture.width}" '
                       f'height="{picture.height}" alt="{e(picture.alt)}">'
                       f"<figcaption>{e(picture.caption)}</figcaption></figure>")
    out += ["<h2>About this run</h2>", '<ul class="notes">'] + [f"<li>{e(n)}</li>" for n in feedback.notes]
    out += ["</ul>", "</main>", "</body>", "</html>", ""]
    return "\n".join(out)


# ------------------------------------------------------------------------------------ files

