"""README's "Read the source" is a complete path through the code, in an order a learner can follow.

Every module of ``minigrad/`` and ``resnext_np/`` is named on it (as its path, in backquotes), or
lies in one of the few places README names as read apart. And a step uses only modules of the
steps before it (or of its own step), unless it says where the later one is read: by naming it
(or a folder holding it), or the step that introduces it ("the ops of step 3").
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("minigrad", "resnext_np")
# Read apart, each with its own page: README's "Read the source" says so in its opening lines.
READ_APART = {
    "minigrad/classroom/": "assignments from this tree (ASSIGNMENTS.md)",
    "minigrad/profiler/": "where the time goes (docs/profiler.md)",
    "resnext_np/profile.py": "the profiler's command (docs/profiler.md)",
    "resnext_np/explain/": "pictures drawn from the library's arrays (docs/pictures.md)",
}
PATH = re.compile(r"`((?:minigrad|resnext_np)/[\w/]*?(?:\.py|/))`")


def all_modules():
    return sorted(str(path.relative_to(ROOT)) for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


def read_apart(path):
    return any(path == place or (place.endswith("/") and path.startswith(place)) for place in READ_APART)


def reading_section():
    readme = (ROOT / "README.md").read_text()
    start = readme.index("\n## Read the source\n")
    end = readme.find("\n## ", start + 1)
    return readme[start: end if end != -1 else len(readme)]


def reading_steps():
    """{step number: the step's text}, from the numbered list."""
    steps, number = {}, None
    for line in reading_section().splitlines():
        match = re.match(r"(\d+)\. ", line)
        if match:
            number = int(match.group(1))
            steps[number] = ""
        elif not line.strip() or not line.startswith(" "):
            number = None
        if number is not None:
            steps[number] += line + "\n"
    return steps


def step_of_each_module(steps):
    """The step where each module's path is first named."""
    found = {}
    for number in sorted(steps):
        for path in PATH.findall(steps[number]):
            if path.endswith(".py"):
                found.setdefault(path, number)
    return found


def module_path(name):
    """``minigrad.nn.module`` -> ``minigrad/nn/module.py`` (or the package's ``__init__.py``), else None."""
    base = ROOT / name.replace(".", "/")
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return str(candidate.relative_to(ROOT))
    return None


def imported_modules(path):
    """The modules of the two packages that ``path`` imports, anywhere in the file."""
    package = path.rsplit("/", 1)[0].replace("/", ".")
    found = set()
    for node in ast.walk(ast.parse((ROOT / path).read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            # ``from minigrad import backend`` uses the module backend.py, not the package's __init__.py
            names = [f"{base}.{alias.name}" if module_path(f"{base}.{alias.name}") else base for alias in node.names]
        for name in names:
            while name and module_path(name) is None:
                name = name.rpartition(".")[0]
            if name.split(".")[0] in PACKAGES and module_path(name) not in (None, path):
                found.add(module_path(name))
    return found


def test_every_module_is_on_the_reading_path_or_read_apart():
    on_path = step_of_each_module(reading_steps())
    missing = [path for path in all_modules() if path not in on_path and not read_apart(path)]
    assert missing == [], f"add these to README's 'Read the source' (or to READ_APART, with a page): {missing}"
    gone = [path for path in on_path if not (ROOT / path).exists()]
    assert gone == [], f"README's reading order names files that do not exist: {gone}"


def test_the_places_read_apart_are_named_in_readme():
    opening = reading_section().split("\n1. ")[0]
    assert [place for place in READ_APART if f"`{place}`" not in opening] == []


def test_nothing_is_used_before_it_is_introduced():
    steps = reading_steps()
    assert sorted(steps) == list(range(1, len(steps) + 1)), "the steps are numbered 1, 2, 3, ... without gaps"
    step_of = step_of_each_module(steps)
    early = []
    for path, step in step_of.items():
        text = steps[step]
        for used in sorted(imported_modules(path)):
            if read_apart(used) or step_of.get(used, 0) <= step:
                continue
            named_here = any(used == place or (place.endswith("/") and used.startswith(place))
                             for place in PATH.findall(text))
            if not (named_here or re.search(rf"\bsteps? {step_of[used]}\b", text)):
                early.append(f"{path} (step {step}) uses {used} (step {step_of[used]})")
    assert early == [], "say in the step where each is read, or reorder README's steps:\n" + "\n".join(early)


def test_the_check_sees_a_forward_use():
    """The order test can fail: tensor.py uses autograd.py, which step 1 only introduces by name."""
    assert "minigrad/autograd.py" in imported_modules("minigrad/tensor.py")
    assert step_of_each_module(reading_steps())["minigrad/autograd.py"] > step_of_each_module(reading_steps())[
        "minigrad/tensor.py"]
