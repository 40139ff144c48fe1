"""The wheel ships the repository's papers: pyproject.toml installs each papers/<slug>/ as the
package odyssey_papers.<slug> and registers it in the `odyssey.papers` entry-point group, so that
`pip install .` then `odyssey train <slug>` works from any folder (DESIGN §5).

Nothing is built here: the packaging configuration is checked as data, and an installed copy is
imitated by a distribution on sys.path (a `*.dist-info` folder whose entry_points.txt is made from
pyproject.toml's own table, beside a copy of papers/lenet5 laid out as the wheel lays it out),
which importlib.metadata finds exactly as it finds a pip-installed one."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from odyssey import nn, papers
from odyssey.tools import validate

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

REPOSITORY = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())
# Every folder of papers/ that is a paper (holds paper.toml).
SLUGS = sorted(
    folder.name for folder in (REPOSITORY / "papers").iterdir() if (folder / "paper.toml").is_file()
)
INSTALLED_PACKAGE = "odyssey_papers"
# An import that works in only one of the two places: through a package name.
PACKAGE_IMPORT = re.compile(rf"^\s*(from|import)\s+(papers|{INSTALLED_PACKAGE})\b", re.MULTILINE)


def entry_points_table() -> dict[str, str]:
    return PYPROJECT["project"].get("entry-points", {}).get(papers.ENTRY_POINT_GROUP, {})


def wheel_settings() -> dict:
    return PYPROJECT["tool"]["scikit-build"]["wheel"]


# --- The packaging configuration ---------------------------------------------------------------


def test_every_paper_of_the_repository_has_an_entry_point() -> None:
    assert SLUGS, "papers/ holds no paper"
    assert entry_points_table() == {slug: f"{INSTALLED_PACKAGE}.{slug}" for slug in SLUGS}


def test_the_wheel_installs_each_paper_folder_as_its_entry_point_package() -> None:
    packages = wheel_settings()["packages"]
    # The library itself still ships, and each paper's whole folder ships under the package
    # its entry point names (the folder, not a list of files: train.py, twin.py ... come along).
    assert packages["odyssey"] == "python/odyssey"
    for slug in SLUGS:
        assert packages[f"{INSTALLED_PACKAGE}/{slug}"] == f"papers/{slug}"
    # scikit-build-core maps a package to a folder of the same last name; nothing else ships but
    # the paper template (odyssey new's; tests/test_cookiecutter.py checks its mapping).
    template = "odyssey/templates/cookiecutter-paper"
    assert set(packages) == {
        "odyssey",
        template,
        *(f"{INSTALLED_PACKAGE}/{slug}" for slug in SLUGS),
    }


def test_nothing_of_a_paper_is_left_out_of_the_wheel() -> None:
    # Its tests and results too: odyssey validate asks for them wherever the paper is.
    assert "exclude" not in wheel_settings()


@pytest.mark.parametrize("slug", SLUGS)
def test_a_paper_folder_imports_its_siblings_relatively_not_by_package(slug: str) -> None:
    # The installed copy is loaded as the repository's is: papers.py imports the folder's files as
    # modules of one package of its own, so `from .model import map_loss` finds the sibling in
    # either place. A package import (`import papers.lenet5`, `odyssey_papers.`) would work in
    # only one of them.
    for path in (REPOSITORY / "papers" / slug).glob("*.py"):
        assert not PACKAGE_IMPORT.search(path.read_text()), path


# --- An installed copy, imitated ---------------------------------------------------------------


def fake_install(site: Path) -> Path:
    """Lays out in `site` what `pip install .` puts in site-packages for the papers: each paper
    folder under odyssey_papers/ and a dist-info with the entry points of
    pyproject.toml. Returns the installed lenet5 folder."""
    for slug in SLUGS:
        shutil.copytree(
            REPOSITORY / "papers" / slug,
            site / INSTALLED_PACKAGE / slug,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    # The real distribution's name: this one, first on sys.path, stands in for an installed one.
    dist_info = site / "ml_odyssey-0.1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: ml-odyssey\nVersion: 0.1.0\n")
    lines = [f"[{papers.ENTRY_POINT_GROUP}]"]
    lines += [f"{name} = {value}" for name, value in entry_points_table().items()]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return site / INSTALLED_PACKAGE / "lenet5"


def test_an_installed_paper_is_found_by_slug_outside_the_repository(tmp_path, monkeypatch) -> None:
    installed = fake_install(tmp_path / "site")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert papers.find_paper("lenet5", cwd=elsewhere) == installed.resolve()
    assert papers.available_papers(cwd=elsewhere)["lenet5"] == installed.resolve()
    # Every variant's model builds from the installed copy, its sibling imports included.
    paper = papers.load_paper(installed)
    for name in paper.variant_names:
        config = papers.resolve(paper, name)
        assert config["paper"]["path"] == str(installed.resolve())
        assert isinstance(papers.build_model(config), nn.Module)
    # It is as valid as the repository's, and as complete (but for full MNIST's two rows).
    assert validate.validate_paper(installed) == []
    assert len(validate.completeness_problems(installed)) == 2
    # Inside the repository its own folder wins over the installed copy.
    assert papers.find_paper("lenet5", cwd=REPOSITORY) == REPOSITORY / "papers" / "lenet5"


def test_odyssey_train_lenet5_runs_the_installed_copy_from_any_folder(tmp_path) -> None:
    installed = fake_install(tmp_path / "site")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = elsewhere / "run"
    # The tests' sys.path (the library, wherever it is) after the fake site-packages, as the
    # other subprocess tests pass it on.
    path = [str(tmp_path / "site"), *(os.path.abspath(entry) for entry in sys.path if entry)]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    argv = ["train", "lenet5", "--epochs", "1", "--dataset", "mnist-sample", "--seed", "0"]
    argv += ["--out", str(out), "--no-progress"]
    result = subprocess.run(
        [sys.executable, "-m", "odyssey", *argv],
        cwd=elsewhere,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "lenet5 / " in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["paper"] == "lenet5"
    assert summary["dataset"] == "mnist-sample"
    assert 0.0 <= summary["test_accuracy"] <= 1.0
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["paper"]["path"] == str(installed.resolve())
    assert (out / "weights.safetensors").is_file()
