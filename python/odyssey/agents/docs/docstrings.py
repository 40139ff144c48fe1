"""Docstring drift found statically (``ast``, nothing imported): public names without a docstring,
and docstrings naming parameters that the signature does not have.

Public means what tests/test_docstrings.py checks on the live package: each module whose dotted
name has no part starting with ``_`` needs a docstring; so does each class and function that such
a module lists in ``__all__`` (followed through ``from ... import`` to where it is defined), and
each public method and property a listed class defines itself, unless it overrides a documented
method of a base class (whose docstring ``inspect.getdoc`` lends it).

Parameters, in this repository's style, are named in prose between single backticks ("Replaces
the file at `path` by `data`"). A backticked lower-case identifier that is neither a parameter
nor any other name the reader could mean there is reported: typically a parameter renamed in the
code and not in its docstring. What the reader could mean is resolved in the function's own
scope (not anywhere in the package, where a renamed parameter's old name is usually still
found): the names the function uses (locals, attributes, keyword arguments, string keys), the
members of the package's classes its annotations name, its module's globals and imports, its
class's attributes and methods, the package's module names and public functions and classes,
builtins and importable modules. Google-style ``Args:`` sections and ``:param x:`` fields are
checked both ways.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import importlib.util
import keyword
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DocstringDrift", "docstring_drift"]

_BACKTICKED = re.compile(r"(?<![`\w])`([a-z_][a-z0-9_]*)`(?![`\w])")
_ARGS_SECTION = re.compile(r"^(\s*)(?:Args|Arguments|Parameters|Keyword Args):\s*$", re.M)
_SPHINX_PARAM = re.compile(r":param\s+(?:[\w\[\], .]+\s+)?(\*{0,2}\w+)\s*:")


@dataclass(frozen=True)
class DocstringDrift:
    """One finding: its kind (``missing-docstring`` or ``docstring-parameter``), the file
    (relative to the tree), the line, the qualified name (with the parameter's name in
    parentheses for ``docstring-parameter``, so that two findings on one function have two ids)
    and what is wrong."""

    kind: str
    path: str
    line: int
    name: str
    message: str


@dataclass
class _Module:
    name: str
    path: Path
    relative: str
    tree: ast.Module
    defs: dict[str, ast.AST] = field(default_factory=dict)
    imports: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    exported: list[str] | None = None
    globals: set[str] = field(default_factory=set)


def _docstring(node: ast.AST) -> str:
    return (ast.get_docstring(node, clean=True) or "").strip()  # type: ignore[arg-type]


def _load_modules(root: Path, packages: list[str]) -> dict[str, _Module]:
    modules: dict[str, _Module] = {}
    for package in packages:
        folder = root / package
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder.parent).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join(parts)
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            except SyntaxError:
                continue  # not ours to report: ruff and the tests do
            module = _Module(name, path, path.relative_to(root).as_posix(), tree)
            is_package = path.name == "__init__.py"
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    module.defs[node.name] = node
                elif isinstance(node, ast.ImportFrom):
                    base = _absolute(name, is_package, node.module, node.level)
                    for alias in node.names:
                        module.imports[alias.asname or alias.name] = (base, alias.name)
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        target = alias.name if alias.asname else alias.name.split(".")[0]
                        module.imports[alias.asname or target] = (target, None)
                elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for target in targets:
                        module.globals.update(
                            n.id for n in ast.walk(target) if isinstance(n, ast.Name)
                        )
                        if isinstance(target, ast.Name) and target.id == "__all__":
                            try:
                                module.exported = list(ast.literal_eval(node.value))
                            except (ValueError, TypeError):
                                module.exported = None
            modules[name] = module
    return modules


def _absolute(module: str, is_package: bool, target: str | None, level: int) -> str:
    if level == 0:
        return target or ""
    parts = module.split(".")
    if not is_package:
        parts = parts[:-1]
    parts = parts[: len(parts) - (level - 1)] if level > 1 else parts
    return ".".join([*parts, *([target] if target else [])])


class _Index:
    def __init__(self, modules: dict[str, _Module]) -> None:
        self.modules = modules
        self.known = self._known_names()

    def resolve(self, module: _Module, name: str, depth: int = 0) -> tuple[_Module, ast.AST] | None:
        """Where `name`, as seen from `module`, is defined in the tree (a def, or a module)."""
        if depth > 20:
            return None
        if name in module.defs:
            return module, module.defs[name]
        if name in module.imports:
            base, attribute = module.imports[name]
            if attribute is None:
                return (
                    (self.modules[base], self.modules[base].tree) if base in self.modules else None
                )
            submodule = f"{base}.{attribute}"
            if submodule in self.modules:
                return self.modules[submodule], self.modules[submodule].tree
            if base in self.modules:
                return self.resolve(self.modules[base], attribute, depth + 1)
        return None

    def resolve_expression(self, module: _Module, node: ast.expr) -> tuple[_Module, ast.AST] | None:
        if isinstance(node, ast.Name):
            return self.resolve(module, node.id)
        if isinstance(node, ast.Attribute):
            owner = self.resolve_expression(module, node.value)
            if owner is not None and isinstance(owner[1], ast.Module):
                return self.resolve(owner[0], node.attr)
        return None

    def external_base_doc(self, module: _Module, node: ast.expr, method: str) -> bool:
        """Whether a base class outside the tree documents `method` (imported to ask it)."""
        dotted = ast.unparse(node)
        head, _, rest = dotted.partition(".")
        if head in module.imports:
            base, attribute = module.imports[head]
            dotted = ".".join(filter(None, [base, attribute, rest]))
        elif hasattr(builtins, head):
            dotted = f"builtins.{dotted}"
        module_name, _, attribute = dotted.rpartition(".")
        if not module_name or module_name.split(".")[0] in {m.split(".")[0] for m in self.modules}:
            return False
        try:
            cls = getattr(importlib.import_module(module_name), attribute)
        except Exception:  # an unimportable base documents nothing we can see
            return False
        return bool((getattr(getattr(cls, method, None), "__doc__", None) or "").strip())

    def inherited_doc(
        self, module: _Module, cls: ast.ClassDef, method: str, depth: int = 0
    ) -> bool:
        if depth > 20:
            return False
        for base in cls.bases:
            found = self.resolve_expression(module, base)
            if found is None:
                if self.external_base_doc(module, base, method):
                    return True
                continue
            base_module, base_node = found
            if not isinstance(base_node, ast.ClassDef):
                continue
            for item in base_node.body:
                if (
                    isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and item.name == method
                ) and _docstring(item):
                    return True
            if self.inherited_doc(base_module, base_node, method, depth + 1):
                return True
        return False

    def _known_names(self) -> set[str]:
        """The names that are fair anywhere: builtins, keywords, the standard library's and the
        package's module names, and the package's public functions and classes (a
        cross-reference). Not its attributes, methods or string keys: a renamed parameter's
        old name is nearly always one of those somewhere."""
        names: set[str] = set(dir(builtins)) | set(keyword.kwlist) | set(sys.stdlib_module_names)
        for module in self.modules.values():
            names.update(module.name.split("."))
            names.update(module.exported or ())
            names.update(name for name in module.defs if not name.startswith("_"))
        return names

    def annotated_members(self, module: _Module, node: ast.AST) -> set[str]:
        """The members (methods, fields) of the package's classes that `node`'s annotations
        name: "`regressions` are ..." of a function returning a Comparison."""
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return set()
        arguments = node.args
        annotations = [
            a.annotation
            for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)
            if a.annotation is not None
        ]
        annotations += [node.returns] if node.returns is not None else []
        members: set[str] = set()
        for annotation in annotations:
            for item in ast.walk(annotation):
                if not isinstance(item, ast.Name):
                    continue
                found = self.resolve(module, item.id)
                if found is not None and isinstance(found[1], ast.ClassDef):
                    for member in found[1].body:
                        if isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef)):
                            members.add(member.name)
                        elif isinstance(member, ast.AnnAssign) and isinstance(
                            member.target, ast.Name
                        ):
                            members.add(member.target.id)
        return members


def _used_names(node: ast.AST) -> set[str]:
    """The names a piece of code uses or defines: variables, attributes, keyword arguments and
    identifier-like string constants (a key or attribute looked up by name)."""
    names: set[str] = set()
    for item in ast.walk(node):
        if isinstance(item, ast.Name):
            names.add(item.id)
        elif isinstance(item, ast.Attribute):
            names.add(item.attr)
        elif (isinstance(item, ast.keyword) and item.arg) or isinstance(item, ast.arg):
            names.add(item.arg)
        elif isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(item.name)
        elif isinstance(item, ast.alias):
            names.add(item.asname or item.name.split(".")[0])
        elif (
            isinstance(item, ast.Constant)
            and isinstance(item.value, str)
            and item.value.isidentifier()
        ):
            names.add(item.value)
    return names


def _scope(index: _Index, module: _Module, node: ast.AST, owner: ast.ClassDef | None) -> set[str]:
    """What a backticked name in `node`'s docstring may mean besides a parameter: `node`'s own
    names, its class's (`owner`), its module's globals and imports, and the fair-anywhere ones."""
    names = set(index.known) | _used_names(node) | index.annotated_members(module, node)
    names |= set(module.defs) | set(module.imports) | module.globals | set(module.exported or ())
    if owner is not None:
        names |= _used_names(owner)
    return names


def _parameters(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    arguments = function.args
    names = [a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)]
    names += [a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None]
    return [name for name in names if name not in ("self", "cls")]


def _section_names(doc: str) -> list[str] | None:
    """The names an ``Args:`` section or ``:param:`` fields document; None without either."""
    names = [name.lstrip("*") for name in _SPHINX_PARAM.findall(doc)]
    match = _ARGS_SECTION.search(doc)
    if match:
        header = len(match.group(1))
        entry_indent = None
        for line in doc[match.end() :].splitlines():
            if not line.strip():
                continue
            depth = len(line) - len(line.lstrip())
            if depth <= header:
                break  # the next section
            entry_indent = depth if entry_indent is None else entry_indent
            entry = re.match(r"\s*\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:", line)
            if depth == entry_indent and entry:
                names.append(entry.group(1))
    return names if (names or match) else None


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _parameter_drift(
    index: _Index,
    module: _Module,
    node: ast.AST,
    qualified: str,
    parameters: list[str],
    owner: ast.ClassDef | None = None,
) -> list[DocstringDrift]:
    doc = _docstring(node)
    if not doc:
        return []
    found: list[DocstringDrift] = []
    documented = _section_names(doc)
    if documented is not None:
        for name in documented:
            if name not in parameters:
                found.append(DocstringDrift(
                    "docstring-parameter", module.relative, node.lineno, f"{qualified}({name})",
                    f"the docstring documents `{name}`, which is not a parameter "
                    f"(parameters: {', '.join(parameters) or 'none'})",
                ))  # fmt: skip
        for name in parameters:
            if name not in documented:
                found.append(DocstringDrift(
                    "docstring-parameter", module.relative, node.lineno, f"{qualified}({name})",
                    f"parameter `{name}` is missing from the docstring's parameter list",
                ))  # fmt: skip
        return found
    scope = _scope(index, module, node, owner)
    for name in dict.fromkeys(_BACKTICKED.findall(doc)):
        if name in parameters or name in scope:
            continue
        if _importable(name):  # `numpy`, `torch`: a library, not a parameter
            continue
        found.append(DocstringDrift(
            "docstring-parameter", module.relative, node.lineno, f"{qualified}({name})",
            f"the docstring names `{name}`, which is not a parameter "
            f"(parameters: {', '.join(parameters) or 'none'}) nor a name in its scope",
        ))  # fmt: skip
    return found


def _public_members(cls: ast.ClassDef) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    members = []
    for item in cls.body:
        if not isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) or item.name.startswith(
            "_"
        ):
            continue
        decorators = [ast.unparse(d) for d in item.decorator_list]
        if any(d.endswith((".setter", ".deleter")) or d.endswith("overload") for d in decorators):
            continue
        members.append(item)
    return members


def docstring_drift(root: str | Path, packages: list[str]) -> list[DocstringDrift]:
    """The docstring drift of the packages (folders relative to `root`, e.g. ``python/odyssey``)."""
    root = Path(root)
    index = _Index(_load_modules(root, packages))
    found: list[DocstringDrift] = []
    seen: set[str] = set()
    for name, module in sorted(index.modules.items()):
        if any(part.startswith("_") for part in name.split(".")):
            continue
        if not _docstring(module.tree):
            found.append(DocstringDrift(
                "missing-docstring", module.relative, 1, name, "the module has no docstring"
            ))  # fmt: skip
        for exported in module.exported or ():
            resolved = index.resolve(module, exported)
            if resolved is None:
                continue
            home, node = resolved
            if not isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            qualified = f"{home.name}.{node.name}"
            if qualified in seen:
                continue
            seen.add(qualified)
            if not _docstring(node):
                kind = "class" if isinstance(node, ast.ClassDef) else "function"
                found.append(DocstringDrift(
                    "missing-docstring", home.relative, node.lineno, qualified,
                    f"the public {kind} has no docstring",
                ))  # fmt: skip
            if isinstance(node, ast.ClassDef):
                init = next(
                    (
                        i
                        for i in node.body
                        if isinstance(i, ast.FunctionDef) and i.name == "__init__"
                    ),
                    None,
                )
                fields = [
                    i.target.id
                    for i in node.body
                    if isinstance(i, ast.AnnAssign) and isinstance(i.target, ast.Name)
                ]
                parameters = _parameters(init) if init is not None else fields
                found += _parameter_drift(index, home, node, qualified, parameters)
                for member in _public_members(node):
                    member_name = f"{qualified}.{member.name}"
                    if not _docstring(member) and not index.inherited_doc(home, node, member.name):
                        found.append(DocstringDrift(
                            "missing-docstring", home.relative, member.lineno, member_name,
                            "the public method has no docstring (nor one it overrides)",
                        ))  # fmt: skip
                    found += _parameter_drift(
                        index, home, member, member_name, _parameters(member), owner=node
                    )
            else:
                found += _parameter_drift(index, home, node, qualified, _parameters(node))
    return found
