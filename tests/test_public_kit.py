"""The public kit: the grader students may have, with recorded reference answers instead of solution/."""
import subprocess
import sys

import pytest

import gradertools as gt
from grader.course.public_kit import ZIP_FOLDER, build_public_kit, solution_lines_in, write_zip
from mutants import MUTANTS

SAMPLE = ["softmax_over_columns", "cross_entropy_without_clip", "mlp_backward_missing_mean",
          "mlp_step_weights_only", "extract_patches_returns_copy", "conv_forward_flipped_kernel",
          "cnn_backward_relu_grad_one_at_zero", "conv_forward_pixel_loops", "cnn_init_conv_variance_as_std"]


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    return build_public_kit(tmp_path_factory.mktemp("public") / "kit")


def grade_with_kit(kit, submission, out, skip=()):
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(submission), "--json", str(out),
                           *(arg for item in skip for arg in ("--skip", item))],
                          cwd=kit, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return __import__("json").loads(out.read_text())


def statuses(results):
    return {t["name"]: (t["status"], t["score"]) for t in results["tests"]}


def test_the_public_kit_installs_the_mnist_grader_command(kit):
    from grader.rubric import tomllib
    project = tomllib.loads((kit / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {"mnist-grader": "grader.cli:main"}
    # only what grade and handin import (tests/test_github_classroom.py runs them in such an install)
    assert [d.split(">")[0] for d in project["dependencies"]] == ["numpy", "threadpoolctl", "tomli"]
    full = tomllib.loads((gt.ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert set(project["dependencies"]) < set(full)
    assert "mnist-grader grade" in (kit / "README.md").read_text()


def test_the_public_kit_holds_no_solution_code(kit):
    assert solution_lines_in(kit) == []
    assert sorted(p.name for p in kit.iterdir()) == ["README.md", "grader", "pyproject.toml"]    # no solution/ at all
    assert not list(kit.rglob("data.py")) and not list(kit.rglob("train.py"))


def test_the_zip_holds_one_folder_without_a_solution(kit, tmp_path):
    import zipfile
    path = write_zip(kit, tmp_path / "mnist-public-kit.zip")
    with zipfile.ZipFile(path) as archive:
        members = archive.namelist()
    assert {name.split("/")[0] for name in members} == {ZIP_FOLDER} == {"mnist-public-kit"}
    assert {f"{ZIP_FOLDER}/README.md", f"{ZIP_FOLDER}/pyproject.toml", f"{ZIP_FOLDER}/grader/cli.py"} <= set(members)
    assert not any("solution" in name.split("/") for name in members)
    files = {name[len(ZIP_FOLDER) + 1:] for name in members if not name.endswith("/")}
    assert files == {str(p.relative_to(kit)) for p in kit.rglob("*") if p.is_file()}


def test_the_public_kit_offers_only_the_students_commands(kit):
    proc = subprocess.run([sys.executable, "-m", "grader", "--help"], cwd=kit, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    verbs = set(proc.stdout.split("{", 1)[1].split("}", 1)[0].split(","))
    assert "grade" in verbs and verbs <= {"grade", "handin"}, proc.stdout
    for verb in ("batch", "publish", "release", "package", "nbgrader", "public-kit"):
        refused = subprocess.run([sys.executable, "-m", "grader", verb, "--help"], cwd=kit, capture_output=True,
                                 text=True, timeout=120)
        assert refused.returncode == 2 and "invalid choice" in refused.stderr, verb


def test_the_public_kit_readme_is_written_for_students(kit):
    readme = (kit / "README.md").read_text()
    assert "pip install -e mnist-public-kit" in readme and "mnist-grader grade . --public" in readme
    assert "- `mnist-grader grade`:" in readme
    for staff in ("mnist-grader batch", "mnist-grader release", "mnist-grader public-kit", "solution/", "rubric"):
        assert staff not in readme, staff


def test_the_public_kit_says_how_many_points_run_only_when_the_course_grades(kit):
    """Its rubric has only the visible rows; the others are listed as not graded, with their points."""
    from grader.rubric import load_rubric
    rubric = load_rubric()
    later = [row for row in rubric.rows if row.visibility != "visible"]
    points = sum(row.points for row in later)
    public = sum(row.points for row in rubric.rows) - points
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(gt.SOLUTION), "--public", "--only",
                           "functional.relu"], cwd=kit, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    closing = " ".join(proc.stdout.split())
    assert f"Not checked here: {points:g} points in {len(later)} checks run only when your course grades" in closing
    assert "Their points are in your course's rubric" not in closing
    handin = subprocess.run([sys.executable, "-m", "grader", "handin", str(gt.SOLUTION), "--out", str(kit / "hw.zip")],
                            cwd=kit, capture_output=True, text=True, timeout=300)
    assert handin.returncode == 0, handin.stderr
    assert "whose points are" not in handin.stdout, handin.stdout
    total = [line for line in handin.stdout.splitlines() if line.strip().startswith("total")]
    assert total and total[0].split()[1:4] == [f"{points + public:g}", f"{public:g}", f"{points:g}"], handin.stdout


def test_the_public_kit_gives_the_reference_full_marks_on_every_visible_check(kit, tmp_path):
    results = grade_with_kit(kit, gt.SOLUTION, tmp_path / "r.json")
    full = gt.reference_run(skip=gt.ACCURACY_ITEMS).results        # the kit trains nothing: no accuracy items
    visible = [t["name"] for t in full["tests"] if t["visibility"] == "visible"]
    assert [t["name"] for t in results["tests"]] == visible
    assert results["score"] == results["max_score"]


@pytest.mark.parametrize("mutant_id", SAMPLE)
def test_the_public_kit_judges_like_the_full_grader(kit, tmp_path, mutant_id):
    mutant = next(m for m in MUTANTS if m.id == mutant_id)
    submission = gt.write_mutant(mutant, tmp_path / "submission")
    # The full grader's verdicts are test_mutants.py's run of the same mutant (gt.mutant_run: graded once
    # per test run), on its visible checks. Both without policy.vectorized where the edit cannot move it;
    # the conv mutants here and the reference (above) compare it.
    skip = tuple(item for item in gt.mutant_skip(mutant) if item not in gt.ACCURACY_ITEMS)    # the kit has none
    public = grade_with_kit(kit, submission, tmp_path / "public.json", skip)
    full = gt.mutant_run(mutant).results
    full = {"tests": [t for t in full["tests"] if t["visibility"] == "visible"]}
    if mutant.file == "functional.py":
        # Without the reference's functional.py to lend, a functional bug also shows in the models' checks
        # in the public kit; functional.py's own checks must still agree.
        public = {"tests": [t for t in public["tests"] if t["name"].startswith("functional.")]}
        full = {"tests": [t for t in full["tests"] if t["name"].startswith("functional.")]}
    assert statuses(public) == statuses(full)
