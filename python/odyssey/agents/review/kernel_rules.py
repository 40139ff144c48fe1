"""The kernel rules of DESIGN §2 that a script can check on a change, as findings on added lines.

Each rule looks only at what the change adds (a file, a table member, a line) and at the tree
after the change, so an old violation elsewhere is not blamed on this change:

- ``kernel/scalar-reference``: a new ISA file ``cpp/src/<family>/<stem>_<isa>.cc`` needs the
  reference ``<stem>_scalar.cc`` beside it; a new kernel table (``struct <Name>Kernels`` in
  ``cpp/include/odyssey/``) needs a scalar table (``<Name>Kernels k... {`` in a ``*_scalar.cc``);
  a new member of a table must be set by name in that scalar table.
- ``kernel/test``: a new ISA file's family needs ``cpp/tests/test_<family>.cc``; a function a
  change declares in a kernel header must be called from some ``cpp/tests/*.cc``.
- ``kernel/isa-namespace``: an ISA file defines its kernels in its own ISA's namespace
  (``namespace odyssey::avx2`` in ``*_avx2.cc``), never another's.
- ``kernel/isa-isolation``: AVX2/AVX-512 intrinsics and vector types only in an ISA file or the
  lane types of ``cpp/include/odyssey/simd/`` (NEON's likewise, as a warning); SSE2 is the x86-64
  baseline and allowed anywhere.
- ``kernel/global-isa-flags``: no ISA flag (``-mavx2``, ``-march=native`` ...) in the build files
  outside an ``ODYSSEY_FLAGS_<isa>`` setting.
- ``kernel/no-fast-math``: no ``-ffast-math``, ``-Ofast``, ``-funsafe-math-optimizations`` or
  ``-ffp-contract=fast`` anywhere (the order of floating-point operations is part of the result).
- ``kernel/table-by-name``: kernel tables are filled by member name (``.tile = ...``), never by
  position.
- ``kernel/binding-registered``: a new ``_kernels`` function (``m.def("name", ...)`` in
  ``cpp/bindings/``) is fuzzed (``tests/test_fuzz.py``), checked by the self-test
  (``odyssey/tools/selftest.py``: a family or RUNTIME_FUNCTIONS) and typed in ``_kernels.pyi``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Protocol

from odyssey.agents.review.diff import FileDiff
from odyssey.agents.review.findings import Finding

__all__ = ["ISAS", "RULES", "Tree", "check_kernel_rules"]

ISAS = ("avx2", "avx512", "neon")
RULES = {
    "kernel/scalar-reference": "every kernel has a scalar reference (DESIGN §2)",
    "kernel/test": "every kernel and ISA variant is tested against the scalar reference",
    "kernel/isa-namespace": "each ISA's code lives in its own translation unit and namespace",
    "kernel/isa-isolation": "nothing compiled for one ISA leaks into a caller on an older CPU",
    "kernel/global-isa-flags": "never a global -mavx2: ISA flags only on that ISA's files",
    "kernel/no-fast-math": "no -ffast-math: results depend on values, shapes and options only",
    "kernel/table-by-name": "dispatch tables are filled by member name, not position",
    "kernel/binding-registered": "new _kernels functions go into the self-test, the fuzz test "
    "and the stub",
}

_ISA_FILE = re.compile(r"^cpp/src/(?P<family>[^/]+)/(?P<stem>[^/]+)_(?P<isa>avx2|avx512|neon)\.cc$")
_NAMESPACE = re.compile(r"^\s*namespace\s+(?:odyssey::)?(?P<name>\w+)\b")
_X86_VECTOR = re.compile(
    r"\b_mm(?:256|512)_\w+\s*\(|\b__m(?:256|512)[id]?\b|#\s*include\s*<(?:immintrin|x86intrin)\.h>"
)
_NEON = re.compile(
    r"#\s*include\s*<arm_neon\.h>|\b(?:float|int|uint)\d+x\d+_t\b|\bv\w+q_[fsu]\d+\s*\("
)
_ISA_FLAG = re.compile(
    r"(?<![\w-])(-mavx\w*|-mfma|-march=native|-mcpu=native|-mtune=native|/arch:AVX\w*)"
)
_FAST_MATH = re.compile(
    r"-ffast-math|-Ofast\b|-funsafe-math-optimizations|-ffp-contract=fast|fast-math\"?\s*\)"
)
_BUILD_FILE = re.compile(
    r"(^|/)CMakeLists\.txt$|\.cmake$|^pyproject\.toml$|^noxfile\.py$|^setup\.(py|cfg)$"
)
_STRUCT = re.compile(r"\bstruct\s+(?P<name>\w+Kernels)\s*\{")
_MEMBER = re.compile(
    r"\(\s*\*\s*(?P<pointer>\w+)\s*\)\s*\(|^\s*(?:const\s+)?[\w:<>]+[\s*&]+(?P<names>\w+(?:\s*,\s*\w+)*)\s*;"
)
_TABLE = re.compile(r"\b(?P<type>\w+Kernels)\s+k\w+\s*\{")
_DEF = re.compile(r"\bm\.def\(\s*\"(?P<name>\w+)\"")
_DECLARATION = re.compile(
    r"^(?:inline\s+|static\s+|constexpr\s+|const\s+)*[\w:<>]+[\s*&]+(?P<name>[a-z_]\w*)\s*\("
)


class Tree(Protocol):
    """The repository after the change: `read` gives a file's text (None when absent), `paths`
    every file's repository-relative path."""

    def read(self, path: str) -> str | None:
        """The text of the file at `path`, None when the tree has no such file."""
        ...

    def paths(self) -> Sequence[str]:
        """Every file's repository-relative path."""
        ...


def _finding(
    diff: FileDiff,
    line: int,
    rule: str,
    message: str,
    suggestion: str = "",
    *,
    severity: str = "error",
) -> Finding:
    return Finding(diff.path, line, severity, rule, message, suggestion)


def _code(line: str, comment: str) -> str:
    """`line` without its trailing comment (`comment` is ``//`` or ``#``)."""
    return line.split(comment, 1)[0]


def _first_added(diff: FileDiff) -> int | None:
    added = sorted(diff.added)
    return added[0] if added else None


def _blocks(text: str, opener: re.Pattern[str]) -> Iterable[tuple[re.Match[str], int, int, str]]:
    """Each match of `opener` (ending at a ``{``) with the 1-based lines its braces span and the
    text between them."""
    for match in opener.finditer(text):
        start = match.end() - 1
        depth = 0
        for index in range(start, len(text)):
            if text[index] == "{":
                depth += 1
            elif text[index] == "}":
                depth -= 1
                if depth == 0:
                    first = text.count("\n", 0, match.start()) + 1
                    last = text.count("\n", 0, index) + 1
                    yield match, first, last, text[start + 1 : index]
                    break


def _scalar_tables(tree: Tree) -> dict[str, set[str] | None]:
    """Kernel table type -> the members its scalar table sets by name (every ``*_scalar.cc``);
    None for a table filled by position."""
    tables: dict[str, set[str] | None] = {}
    for path in tree.paths():
        if not (path.startswith("cpp/src/") and path.endswith("_scalar.cc")):
            continue
        text = tree.read(path) or ""
        for match, _, _, body in _blocks(text, _TABLE):
            entries = [entry.strip() for entry in _top_level_split(body) if entry.strip()]
            if any(not entry.startswith(".") for entry in entries):
                # Filled by position: which member is set cannot be told (table-by-name says so).
                tables[match["type"]] = None
            elif tables.get(match["type"], set()) is not None:
                named = tables.setdefault(match["type"], set())
                assert named is not None
                named.update(re.findall(r"\.(\w+)\s*=", body))
    return tables


def _isa_file_rules(diff: FileDiff, tree: Tree) -> list[Finding]:
    match = _ISA_FILE.match(diff.path)
    if match is None:
        return []
    found = []
    family, stem, isa = match["family"], match["stem"], match["isa"]
    if diff.status in ("added", "renamed") and diff.added:
        line = _first_added(diff) or 1
        reference = f"cpp/src/{family}/{stem}_scalar.cc"
        if tree.read(reference) is None:
            found.append(
                _finding(
                    diff,
                    line,
                    "kernel/scalar-reference",
                    f"new {isa} variant without its scalar reference {reference}: every ISA "
                    "variant is tested against a scalar reference",
                    f"add {reference} in namespace odyssey::scalar (the plainest correct loop)",
                )
            )
        test = f"cpp/tests/test_{family}.cc"
        if tree.read(test) is None:
            found.append(
                _finding(
                    diff,
                    line,
                    "kernel/test",
                    f"new {isa} variant of the family {family} without a test: {test} is missing",
                    f"add {test} comparing every compiled ISA with the scalar reference over odd "
                    "sizes and float offsets 0-16",
                )
            )
    text = tree.read(diff.path) or ""
    lines = text.splitlines()
    own = False
    for number, line in enumerate(lines, 1):
        namespace = _NAMESPACE.match(_code(line, "//"))
        if namespace is None:
            continue
        name = namespace["name"]
        if name == isa:
            own = True
        elif name in (*ISAS, "scalar") and number in diff.added:
            found.append(
                _finding(
                    diff,
                    number,
                    "kernel/isa-namespace",
                    f"namespace {name} in a {isa} file: this file is compiled with {isa}'s flags "
                    f"only, and its table must be odyssey::{isa}'s",
                    line.replace(name, isa, 1),
                )
            )
    if not own and diff.added:
        found.append(
            _finding(
                diff,
                _first_added(diff) or 1,
                "kernel/isa-namespace",
                f"no namespace odyssey::{isa} in {diff.path}: the dispatch table looks the "
                f"variant up as odyssey::{isa}::k<Family>",
            )
        )
    return found


def _isolation_rules(diff: FileDiff) -> list[Finding]:
    path = diff.path
    if not path.startswith("cpp/") or _ISA_FILE.match(path):
        return []
    if path.startswith("cpp/include/odyssey/simd/") or path.startswith("cpp/tests/"):
        return []
    if not path.endswith((".cc", ".h", ".cpp", ".hpp")):
        return []
    # Headers under cpp/src/<family>/ are the generic bodies ISA files instantiate; they use the
    # lane types, and a raw intrinsic there still only compiles inside an ISA file.
    if path.startswith("cpp/src/") and path.endswith((".h", ".hpp")):
        return []
    found = []
    for line in diff.lines:
        if line.kind != "+" or line.new is None:
            continue
        code = _code(line.text, "//")
        if _X86_VECTOR.search(code):
            found.append(
                _finding(
                    diff,
                    line.new,
                    "kernel/isa-isolation",
                    "AVX2/AVX-512 code in a file compiled for generic x86-64: it either fails to "
                    "build or leaks into callers on CPUs without the ISA",
                    "move it into the family's <family>_<isa>.cc (or the lane types of "
                    "cpp/include/odyssey/simd/) and reach it through the dispatch table",
                )
            )
        elif _NEON.search(code):
            found.append(
                _finding(
                    diff,
                    line.new,
                    "kernel/isa-isolation",
                    "NEON code outside a *_neon.cc file or the NEON lane types",
                    "move it into <family>_neon.cc and reach it through the dispatch table",
                    severity="warning",
                )
            )
    return found


def _build_rules(diff: FileDiff) -> list[Finding]:
    found = []
    is_build = bool(_BUILD_FILE.search(diff.path))
    is_cpp = diff.path.startswith("cpp/") or diff.path.endswith((".cc", ".h", ".cpp", ".hpp"))
    if not (is_build or is_cpp):
        return []
    for line in diff.lines:
        if line.kind != "+" or line.new is None:
            continue
        code = _code(line.text, "//" if is_cpp else "#")
        if _FAST_MATH.search(code) or (is_cpp and re.search(r"optimize\s*\(\s*\"?fast-math", code)):
            found.append(
                _finding(
                    diff,
                    line.new,
                    "kernel/no-fast-math",
                    "fast-math lets the compiler reorder floating-point operations, so results "
                    "would depend on more than the values, shapes and options",
                    "remove it; ask for a fused multiply-add explicitly where it is wanted",
                )
            )
        # Setting a variant's own flags, or probing whether the compiler has them, is allowed.
        allowed = re.search(r"ODYSSEY_FLAGS_\w+|check_c(?:xx)?_compiler_flag", code)
        if is_build and _ISA_FLAG.search(code) and not allowed:
            flag = _ISA_FLAG.search(code)
            assert flag is not None
            found.append(
                _finding(
                    diff,
                    line.new,
                    "kernel/global-isa-flags",
                    f"{flag[1]} outside an ODYSSEY_FLAGS_<isa> setting: a global ISA flag lets "
                    "AVX instructions into code that runs on every CPU",
                    "set ISA flags only in cmake/OdysseyIsa.cmake's ODYSSEY_FLAGS_<isa>, which "
                    "CMake applies to files named *_<isa>.cc alone",
                )
            )
    return found


def _table_rules(diff: FileDiff, tree: Tree) -> list[Finding]:
    if not (diff.path.startswith("cpp/") and diff.added):
        return []
    text = tree.read(diff.path) or ""
    found = []
    for match, first, last, body in _blocks(text, _TABLE):
        if not any(first <= number <= last for number in diff.added):
            continue
        entries = [entry.strip() for entry in _top_level_split(body) if entry.strip()]
        positional = [entry for entry in entries if not entry.startswith(".")]
        if positional:
            found.append(
                _finding(
                    diff,
                    first,
                    "kernel/table-by-name",
                    f"{match['type']} filled by position ({positional[0].split()[0]} ...): a "
                    "member added or reordered in the struct would silently shift every entry",
                    "name every member: {.member = function, ...}",
                )
            )
    return found


def _top_level_split(body: str) -> list[str]:
    """`body` split at the commas outside any brackets."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(body):
        if char in "({[<":
            depth += 1
        elif char in ")}]>":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(body[start:index])
            start = index + 1
    parts.append(body[start:])
    return parts


def _struct_rules(
    diff: FileDiff, tree: Tree, scalar_tables: dict[str, set[str] | None]
) -> list[Finding]:
    if not (diff.path.startswith("cpp/include/odyssey/") and diff.added):
        return []
    text = tree.read(diff.path) or ""
    found = []
    for match, first, last, body in _blocks(text, _STRUCT):
        name = match["name"]
        added_here = [number for number in diff.added if first <= number <= last]
        if not added_here:
            continue
        if name not in scalar_tables:
            if first in diff.added:
                found.append(
                    _finding(
                        diff,
                        first,
                        "kernel/scalar-reference",
                        f"new kernel table {name} without a scalar table: no *_scalar.cc under "
                        f"cpp/src/ defines `const {name} k... {{...}}`",
                        "add cpp/src/<family>/<family>_scalar.cc with the reference table of "
                        f"{name}",
                    )
                )
            continue
        named = scalar_tables[name]
        if named is None:
            continue
        body_lines = body.split("\n")
        for offset, line in enumerate(body_lines):
            number = first + offset
            if number not in diff.added:
                continue
            member = _MEMBER.search(_code(line, "//"))
            if member is None:
                continue
            names = (
                [member["pointer"]] if member["pointer"] else re.split(r"\s*,\s*", member["names"])
            )
            for member_name in names:
                if member_name not in named:
                    found.append(
                        _finding(
                            diff,
                            number,
                            "kernel/scalar-reference",
                            f"{name}::{member_name} is not set in the scalar table: the "
                            "reference every variant is tested against is missing (and an "
                            "unset member is a null pointer the dispatch would call)",
                            f".{member_name} = {member_name}, in the family's *_scalar.cc table",
                        )
                    )
    return found


def _parameters(text: str, start: int) -> str:
    """The parameter list of the declaration whose name starts at `start` (up to its ``)``)."""
    opening = text.find("(", start)
    depth = 0
    for index in range(opening, len(text)):
        depth += {"(": 1, ")": -1}.get(text[index], 0)
        if depth == 0:
            return text[opening + 1 : index]
    return text[opening + 1 :]


def _is_kernel_entry(text: str, offset: int, line: str) -> bool:
    """Whether the declaration at `offset` is a kernel's entry point (what DESIGN §2's ISA tests
    are about): declared here and defined in the family's .cc files (not `inline`), working on
    buffers (a pointer or span parameter). Shape arithmetic, option scalars and name helpers
    (pooled_size, sgd_scalars, conv_algorithm_name) are not."""
    if re.match(r"\s*(?:static\s+|constexpr\s+)*inline|\s*constexpr", line):
        return False
    return bool(re.search(r"\*|span\s*<", _parameters(text, offset)))


def _declaration_rules(diff: FileDiff, tree: Tree, test_text: str) -> list[Finding]:
    """Kernel entry points a change declares at namespace scope of a kernel header (functions
    on buffers, defined out of line), never called in a test."""
    if not (diff.path.startswith("cpp/include/odyssey/") and diff.path.endswith(".h")):
        return []
    if diff.path.startswith("cpp/include/odyssey/simd/") or not diff.added:
        return []
    text = tree.read(diff.path) or ""
    if not _STRUCT.search(text):
        return []  # not a kernel family's header (dispatch, threads, build information)
    inside = _lines_inside_types_or_bodies(text)
    found = []
    offset = 0
    for number, line in enumerate(text.split("\n"), 1):
        start, offset = offset, offset + len(line) + 1
        if number not in diff.added or number in inside:
            continue
        declaration = _DECLARATION.match(_code(line, "//"))
        if declaration is None or declaration["name"] in ("operator", "return"):
            continue
        name = declaration["name"]
        if name.endswith("_kernels"):
            continue  # the table accessor: the tests reach the tables through the dispatch
        if not _is_kernel_entry(text, start + declaration.start("name"), line):
            continue
        if not re.search(rf"\b{re.escape(name)}\s*\(", test_text):
            found.append(
                _finding(
                    diff,
                    number,
                    "kernel/test",
                    f"{name} is declared here but no test calls it (cpp/tests/*.cc, tests/*.py, "
                    "the self-test)",
                    f"test {name} in cpp/tests/test_<family>.cc on every ISA against the scalar "
                    "reference: odd sizes, float offsets 0-16, 1 and N threads",
                    severity="warning",
                )
            )
    return found


def _lines_inside_types_or_bodies(text: str) -> set[int]:
    """1-based lines inside braces other than a namespace's (struct members, function bodies)."""
    inside: set[int] = set()
    stack: list[bool] = []  # True for a namespace's brace
    line = 1
    pending = ""
    for char in text:
        if char == "\n":
            line += 1
            pending = ""
            continue
        if any(stack[i] is False for i in range(len(stack))):
            inside.add(line)
        if char == "{":
            stack.append(bool(re.search(r"\bnamespace\b[\w:\s]*$", pending)))
        elif char == "}" and stack:
            stack.pop()
        pending += char
    return inside


def _binding_rules(diff: FileDiff, tree: Tree) -> list[Finding]:
    if not (diff.path.startswith("cpp/bindings/") and diff.added):
        return []
    text = tree.read(diff.path) or ""
    fuzz = tree.read("tests/test_fuzz.py") or ""
    selftest = tree.read("python/odyssey/tools/selftest.py") or ""
    stub = tree.read("python/odyssey/_kernels.pyi") or ""
    found = []
    for match in _DEF.finditer(text):
        number = text.count("\n", 0, match.start("name")) + 1
        if number not in diff.added:
            continue
        name = match["name"]
        missing = []
        if f'"{name}"' not in fuzz:
            missing.append("tests/test_fuzz.py's RAW targets")
        if f'"{name}"' not in selftest:
            missing.append("a family of odyssey/tools/selftest.py (or RUNTIME_FUNCTIONS)")
        if not re.search(rf"\bdef {re.escape(name)}\s*\(", stub):
            missing.append("the stub python/odyssey/_kernels.pyi")
        if missing:
            found.append(
                _finding(
                    diff,
                    number,
                    "kernel/binding-registered",
                    f"_kernels.{name} is new but not in " + ", ".join(missing),
                    f"add {name} to " + "; ".join(missing),
                )
            )
    return found


def check_kernel_rules(diffs: Sequence[FileDiff], tree: Tree) -> list[Finding]:
    """Every kernel-rule finding on the lines `diffs` add, `tree` being the repository after the
    change."""
    # Reading the tree costs a git call a file: only for a change to the kernels' headers.
    headers = any(diff.path.startswith("cpp/include/odyssey/") for diff in diffs)
    scalar_tables = _scalar_tables(tree) if headers else {}
    # A kernel is tested from C++ (ctest), from Python through its binding, or by the self-test.
    tests = "\n".join(
        tree.read(path) or ""
        for path in (tree.paths() if headers else ())
        if (path.startswith("cpp/tests/") and path.endswith((".cc", ".h")))
        or (path.startswith("tests/") and path.endswith(".py"))
        or path == "python/odyssey/tools/selftest.py"
    )
    found: list[Finding] = []
    for diff in diffs:
        if diff.status == "deleted" or diff.binary:
            continue
        found += _isa_file_rules(diff, tree)
        found += _isolation_rules(diff)
        found += _build_rules(diff)
        found += _table_rules(diff, tree)
        found += _struct_rules(diff, tree, scalar_tables)
        found += _declaration_rules(diff, tree, tests)
        found += _binding_rules(diff, tree)
    return found
