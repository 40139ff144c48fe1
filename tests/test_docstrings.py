"""The public API is documented: every public name without a docstring is listed, and none may be.

Public: what a public module (no part of its dotted name starts with ``_``) lists in ``__all__``,
and the public methods and properties of the public classes among them. The API reference of the
documentation site (``nox -s docs``) is generated from these docstrings, so a missing one is a
blank entry there. A method that overrides a documented one inherits its docstring (as
``inspect.getdoc`` reads it), so ``forward`` of a layer need not repeat ``Module.forward``'s; a
class needs its own.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import odyssey


def public_modules() -> list[ModuleType]:
    """odyssey and each of its modules whose dotted name has no private part."""
    modules = [odyssey]
    for info in pkgutil.walk_packages(odyssey.__path__, prefix="odyssey."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        modules.append(importlib.import_module(info.name))
    return modules


def documented(obj: object) -> bool:
    """A class needs its own docstring (inspect.getdoc would lend it its base class's); a method
    may inherit the one of the method it overrides."""
    doc = obj.__doc__ if inspect.isclass(obj) else inspect.getdoc(obj)
    return bool(doc and doc.strip())


def ours(obj: object) -> bool:
    """Defined in odyssey (a re-exported NumPy function or builtin is not ours to document)."""
    return (getattr(obj, "__module__", None) or "").split(".")[0] == "odyssey"


def class_members(cls: type) -> list[tuple[str, object]]:
    """The public methods and properties that the class itself defines."""
    members = []
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if isinstance(member, property) or inspect.isfunction(member):
            members.append((name, member))
    return members


def undocumented_public_names() -> list[str]:
    missing: set[str] = set()
    for module in public_modules():
        if not documented(module):
            missing.add(module.__name__)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if inspect.ismodule(obj):
                continue  # a public module, checked as one
            if not (inspect.isclass(obj) or inspect.isroutine(obj)) or not ours(obj):
                continue  # data (dtypes, constants) and what is re-exported from elsewhere
            qualified = f"{obj.__module__}.{obj.__qualname__}"
            if not documented(obj):
                missing.add(qualified)
            if inspect.isclass(obj):
                for member_name, member in class_members(obj):
                    if not documented(member):
                        missing.add(f"{qualified}.{member_name}")
    return sorted(missing)


def test_every_public_name_has_a_docstring() -> None:
    missing = undocumented_public_names()
    assert missing == [], f"{len(missing)} public names without a docstring:\n" + "\n".join(missing)


def test_the_walk_finds_the_api() -> None:
    """The check looks where the API is: a walk that found nothing would pass vacuously."""
    names = {module.__name__ for module in public_modules()}
    assert {"odyssey", "odyssey.nn", "odyssey.optim", "odyssey.train", "odyssey.cli"} <= names
    assert not any("._" in name for name in names)
