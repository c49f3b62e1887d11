$generated -- regenerating overwrites this file.
"""nbgrader configuration of the mnist-from-scratch course (nbgrader 0.9)."""
import os

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbformat.v4 import new_output
from nbgrader.preprocessors import ClearHiddenTests, GetGrades

c = get_config()  # noqa: F821 -- provided by traitlets when it loads this file

c.CourseDirectory.course_id = "$course_id"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))

# Seconds per cell when autograde (or validate) runs a notebook; the tests are data-free and take
# well under a second, so this only stops a student's infinite loop. nbgrader's Execute is its
# ExecutePreprocessor.
c.Execute.timeout = $timeout
c.Execute.startup_timeout = 120


class ClearHiddenTestsFromFeedback(ClearHiddenTests):
    """Feedback: remove each hidden test region, and the outputs of its cell (a traceback quotes the
    failing line, assert_allclose prints the expected values); a failure keeps one line, its exception."""

    def preprocess_cell(self, cell, resources, index):
        hidden = cell.cell_type == "code" and self.begin_test_delimeter in cell.source
        cell, resources = super().preprocess_cell(cell, resources, index)
        if hidden:
            errors = [output.ename for output in cell.outputs if output.output_type == "error"]
            cell.outputs = [new_output("error", ename=errors[0], evalue="a hidden test failed",
                                       traceback=[errors[0] + ": a hidden test failed (its code is not shown)"])
                            ] if errors else []
        return cell, resources


# nbgrader's own feedback preprocessors, then ours: by default the feedback shows hidden tests.
c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, ClearHiddenTestsFromFeedback]
