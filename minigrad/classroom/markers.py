"""Find the solution regions in one Python file and write its student version.

A region is a block of whole lines between two comment lines:

    def relu_backward(grad_out, x):
        '''dx = dy * (x > 0)'''
        # BEGIN SOLUTION t01_elementwise_backward
        return grad_out * (x > 0)
        # END SOLUTION

In the student version the region, marker lines included, becomes two lines at the
indentation of the BEGIN line:

        # TODO(t01_elementwise_backward): <instruction>
        raise NotImplementedError("t01_elementwise_backward: <instruction>")

Rules, each enforced with an error that quotes file:line:
- markers are comment lines of their own; `# END SOLUTION` may repeat the task id;
- regions do not nest, every BEGIN has an END at the same indentation, and the task id is
  registered in `tasks.py`;
- a region holds at least one line, sits inside a function body (a stub anywhere else would
  raise on import) and covers whole statements (the stubbed file must parse).

Marker-shaped text inside a string or docstring is not a marker and is left untouched; regions
inside docstrings are not supported. Regions of tasks not being stubbed keep their solution, and
their marker lines are dropped, so a student copy carries no markers at all.
"""

from __future__ import annotations

import ast
import io
import json
import re
import tokenize
from dataclasses import dataclass

from minigrad.classroom.tasks import TASKS_BY_ID, ClassroomError

BEGIN_MARKER = re.compile(r"^(?P<indent>[ \t]*)#\s*BEGIN SOLUTION\b(?P<rest>.*?)\s*$")
END_MARKER = re.compile(r"^(?P<indent>[ \t]*)#\s*END SOLUTION\b(?P<rest>.*?)\s*$")
# The same words in a comment that follows code on its line: an error, not silently ignored.
MARKER_WORDS = re.compile(r"#\s*(BEGIN|END) SOLUTION\b")


class MarkerError(ClassroomError):
    def __init__(self, path: str, line: int, message: str):
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line = path, line


@dataclass(frozen=True)
class Region:
    task_id: str
    begin_line: int  # 1-based line numbers of the two marker lines
    end_line: int
    indent: str


def find_regions(path: str, text: str) -> list[Region]:
    """All solution regions of a file, validated except for the stub check (see `check_stubs`)."""
    if "SOLUTION" not in text:  # cheap exit for the many files without regions
        return []
    lines = [line.rstrip("\r\n") for line in _split_lines(text)]
    regions, open_begin = [], None  # open_begin: (line, indent, task_id) of an unclosed BEGIN
    for line_number in _comment_only_lines(path, text):
        line = lines[line_number - 1]
        begin, end = BEGIN_MARKER.match(line), END_MARKER.match(line)
        if begin:
            task_id = begin["rest"].strip()
            if not task_id or " " in task_id:
                raise MarkerError(path, line_number, f"expected '# BEGIN SOLUTION <task-id>', got {line.strip()!r}")
            if task_id not in TASKS_BY_ID:
                known = ", ".join(TASKS_BY_ID)
                raise MarkerError(path, line_number, f"unknown task id {task_id!r}; known tasks: {known}")
            if open_begin:
                raise MarkerError(path, line_number,
                                  f"nested BEGIN SOLUTION: the region begun at line {open_begin[0]} is still open")
            open_begin = (line_number, begin["indent"], task_id)
        elif end:
            if not open_begin:
                raise MarkerError(path, line_number, "END SOLUTION without a BEGIN SOLUTION before it")
            begin_line, indent, task_id = open_begin
            if end["rest"] and end["rest"].strip() != task_id:
                raise MarkerError(path, line_number, f"END SOLUTION names {end['rest'].strip()!r} "
                                                     f"but the region begun at line {begin_line} is {task_id!r}")
            if end["indent"] != indent:
                raise MarkerError(path, line_number, f"END SOLUTION is indented {len(end['indent'])} columns, "
                                                     f"its BEGIN at line {begin_line} {len(indent)}")
            if line_number == begin_line + 1:
                raise MarkerError(path, begin_line, "empty solution region")
            regions.append(Region(task_id, begin_line, line_number, indent))
            open_begin = None
    if open_begin:
        raise MarkerError(path, open_begin[0], "BEGIN SOLUTION is never closed by an END SOLUTION")
    return regions


def student_text(text: str, regions: list[Region], stub_tasks, instructions: dict[str, str]) -> str:
    """The file with regions of `stub_tasks` replaced by stubs and every marker line removed."""
    return rewrite(text, regions, stub_tasks, instructions)[0]


def check_stubs(path: str, text: str, regions: list[Region], instructions: dict[str, str]) -> None:
    """Raise MarkerError unless stubbing every region leaves a file that parses and imports.

    All regions are checked on every build, so a bad region of a task left out with --tasks
    is still caught.
    """
    if not regions:
        return
    try:
        ast.parse(text, filename=path)
    except SyntaxError as error:
        raise MarkerError(path, error.lineno or 0, f"the source itself is not valid Python: {error.msg}") from None
    all_tasks = {region.task_id for region in regions}
    stubbed, source_line_of = rewrite(text, regions, all_tasks, instructions)
    try:
        tree = ast.parse(stubbed, filename=path)
    except SyntaxError as error:
        source_line = source_line_of[(error.lineno or 1) - 1] if error.lineno and error.lineno <= len(source_line_of) else 0
        region = _region_before(regions, source_line)
        raise MarkerError(
            path, region.begin_line if region else source_line,
            f"stubbing this region leaves invalid Python ({error.msg} at line {source_line}); "
            "a region must cover whole statements at the BEGIN line's indentation",
        ) from None
    stub_lines = {i + 1 for i, origin in enumerate(source_line_of) if origin in {r.begin_line for r in regions}}
    for raise_line in _raise_lines_outside_functions(tree):
        if raise_line in stub_lines:
            begin_line = source_line_of[raise_line - 1]
            raise MarkerError(path, begin_line,
                              "solution region is not inside a function body; its stub would raise on import")


def rewrite(text, regions, stub_tasks, instructions, replacements=None):
    """Return (new text, source line number of each new line).

    `replacements` maps a region's BEGIN line to the lines that take its place (a submission's
    code, when grading); other regions of `stub_tasks` become stubs, the rest keep their solution.
    """
    lines = _split_lines(text)
    by_begin = {region.begin_line: region for region in regions}
    output, source_line_of = [], []
    line_number = 1
    while line_number <= len(lines):
        region = by_begin.get(line_number)
        if region is None:
            output.append(lines[line_number - 1])
            source_line_of.append(line_number)
            line_number += 1
            continue
        if replacements and region.begin_line in replacements:
            output += replacements[region.begin_line]
            source_line_of += [region.begin_line] * len(replacements[region.begin_line])
        elif region.task_id in stub_tasks:
            newline = lines[line_number - 1][len(lines[line_number - 1].rstrip("\r\n")):] or "\n"
            instruction = instructions[region.task_id]
            message = json.dumps(f"{region.task_id}: {instruction}")  # a JSON string is a valid Python literal
            output.append(f"{region.indent}# TODO({region.task_id}): {instruction}{newline}")
            output.append(f"{region.indent}raise NotImplementedError({message}){newline}")
            source_line_of += [region.begin_line, region.begin_line]
        else:
            kept = range(region.begin_line + 1, region.end_line)
            output += [lines[i - 1] for i in kept]
            source_line_of += list(kept)
        line_number = region.end_line + 1
    return "".join(output), source_line_of


def _comment_only_lines(path: str, text: str) -> list[int]:
    """Line numbers of marker comments that stand alone on their line, in order.

    Tokenizing (rather than matching raw lines) is what keeps marker-shaped text inside
    strings and docstrings from counting as markers.
    """
    lines = _split_lines(text)
    found = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type != tokenize.COMMENT or not MARKER_WORDS.match(token.string):
                continue
            row, column = token.start
            if lines[row - 1][:column].strip():
                raise MarkerError(path, row, "a solution marker must be a comment line of its own")
            found.append(row)
    except (tokenize.TokenError, SyntaxError) as error:
        line = getattr(error, "lineno", None) or (error.args[1][0] if len(error.args) > 1 else 0)
        raise MarkerError(path, line, f"cannot read the file as Python: {error.args[0]}") from None
    return found


def _split_lines(text: str) -> list[str]:
    # Split exactly where the tokenizer does ('\n' only, ends kept); str.splitlines() also
    # splits at form feeds and other separators and would shift the line numbers.
    return io.StringIO(text).readlines()


def _region_before(regions, source_line):
    before = [region for region in regions if region.begin_line <= source_line]
    return before[-1] if before else None


def _raise_lines_outside_functions(tree: ast.AST) -> list[int]:
    lines = []

    def visit(node, inside_function):
        if isinstance(node, ast.Raise) and not inside_function:
            lines.append(node.lineno)
        inside = inside_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(tree, False)
    return lines
