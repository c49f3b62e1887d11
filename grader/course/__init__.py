"""The course staff's tools, which grade nothing themselves. They need the full kit (solution/ beside
grader/); the public kit students get offers none of their commands (grader/cli.py, INSTRUCTOR_VERBS).

- Release: the assignment students get, from the reference (generate.py, `mnist-grader release`,
  with readme.py for the generated regions of its README).
- Packages for other platforms: a Gradescope autograder (package.py), an nbgrader course
  (nbgrader.py), the public kit students install (public_kit.py). The scripts and test cells they
  write are real files under templates/, filled in by the module that ships them.
- Outputs across all the students of a batch, for a person to read (similarity.py,
  similarity_page.py) or for a learning management system to import (gradebook.py). They read the
  submissions as untrusted text and the batch's grades.csv; they run no student code.
"""
