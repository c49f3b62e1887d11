"""The static scan of policy.no_torch: what it must flag, and the harmless code it must leave alone."""
import pytest

from grader import static
from grader.rubric import load_rubric

ALLOWED = load_rubric().allowed_imports

FLAGGED = {
    "__import__": ('m = __import__("torch")\n', "dynamic"),
    "import_module": ('import importlib\nm = importlib.import_module("torch.nn")\n', "banned"),
    "sys.modules": ('import sys\nm = sys.modules["torch"]\n', "banned"),
    "numpy's __builtins__": ("import numpy as np\nb = np.__builtins__\n", "dynamic"),
    "getattr __builtins__": ('import numpy as np\nb = getattr(np, "__builtins__")\n', "dynamic"),
    "os.system via alias": ('import os as o\no.system("ls")\n', "dynamic"),
    "frame walk": ("try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    f = e.__traceback__.tb_frame.f_back\n",
                   "introspection"),
    "f_globals by name": ('def f(frame):\n    return getattr(frame, "f_globals")\n', "introspection"),
    "subclasses": ("x = ().__class__.__base__.__subclasses__()\n", "introspection"),
}

HARMLESS = {
    "module docstring": '"""torch.relu, torch.softmax and friends, in NumPy."""\nimport numpy as np\n',
    "function docstring": 'def f():\n    """Like torch.nn.functional.conv2d."""\n    return 1\n',
    "error message": 'def f():\n    raise ValueError("torch is not needed here")\n',
    "self.modules and eval()": ("class Net:\n    def __init__(self):\n        self.modules = []\n"
                                "    def run(self):\n        self.eval()\n        return self.modules\n"),
    "re.compile": 'import re\npattern = re.compile("x")\n',
    "dtype strings": 'import numpy as np\nx = np.zeros(3, dtype="float64")\n',
}


@pytest.mark.parametrize("name", sorted(FLAGGED))
def test_flags_ways_around_the_import_rules(name):
    source, kind = FLAGGED[name]
    scan = static.scan({"functional.py": source}, ALLOWED)
    assert getattr(scan, kind), f"{name}: not flagged as {kind}: {scan}"


@pytest.mark.parametrize("name", sorted(HARMLESS))
def test_leaves_harmless_code_alone(name):
    scan = static.scan({"functional.py": HARMLESS[name]}, ALLOWED | {"re"})
    assert not (scan.banned or scan.dynamic or scan.introspection), f"{name}: flagged: {scan}"
