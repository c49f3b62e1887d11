"""Tools for a whole course: outputs across all the students of a batch, for a person to read
(similarity.py, similarity_page.py) or for a learning management system to import (gradebook.py).
They read the submissions as untrusted text and the batch's grades.csv; they run no student code."""
