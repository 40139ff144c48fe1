"""The paper template (cookiecutter-paper/) and `odyssey new`.

A paper rendered into a temporary folder validates, trains for one epoch with `odyssey train` and
passes its own tests, as it is; its Python is ruff-clean and its paper.toml reads back the answers.
Bad answers (slug first) are refused with a clear line and no folder left behind, by cookiecutter's
hook and by `odyssey new`, whose rendering equals cookiecutter's. The template is found in a source
checkout and where the wheel installs it, and the hook lists a paper made in the repository's
papers/ in pyproject.toml."""

from __future__ import annotations

import datetime
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cookiecutter.exceptions as cookiecutter_exceptions
import cookiecutter.main as cookiecutter_main
import pytest
from cli_run import run

from odyssey import papers
from odyssey.cli import new
from odyssey.data import DATASETS

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

REPOSITORY = Path(__file__).resolve().parents[1]
TEMPLATE = REPOSITORY / "cookiecutter-paper"
CONTEXT = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))
ANSWERS = {
    "title": "A Generated Paper",
    "slug": "generated",
    "authors": "Ada Lovelace, Alan Turing",
    "arxiv": "1512.03385",
    "variants": "base, wide",
}
# Slugs the template refuses, and the reason it gives (odyssey new also refuses "" and "a/b").
BAD_SLUGS = {
    "class": "is a Python keyword",
    "match": "is a Python keyword",
    "tests": "is reserved",
    "odyssey": "is reserved",
    "json": "standard library",
    "9lives": "not a lowercase Python identifier",
    "My_Paper": "not a lowercase Python identifier",
    "my-paper": "not a lowercase Python identifier",
    "a" * 41: "longer than 40 characters",
}


def render(output: Path, **answers: str) -> Path:
    """cookiecutter's own rendering of the template, no questions asked."""
    created = cookiecutter_main.cookiecutter(
        str(TEMPLATE),
        no_input=True,
        extra_context=answers,
        output_dir=str(output),
        default_config=True,
    )
    return Path(created)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (caches left out) by its relative path: its bytes."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def subprocess_environment() -> dict[str, str]:
    """This process's environment with its sys.path as PYTHONPATH, so that a child imports the
    same odyssey (the source tree's or the installed one)."""
    path = [os.path.abspath(entry) for entry in sys.path if entry]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path)}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One paper rendered from the template with ANSWERS, shared by the module's tests."""
    return render(tmp_path_factory.mktemp("papers"), **ANSWERS)


# --- The generated paper ------------------------------------------------------------------------


def test_generated_paper_has_the_layout_of_a_paper(generated: Path) -> None:
    assert generated.name == "generated"
    for name in ("__init__.py", "README.md", "paper.toml", "model.py", "tests/test_generated.py"):
        assert (generated / name).is_file(), name
    assert (generated / "results").is_dir()
    assert [path.name for path in (generated / "results").iterdir()] == [".gitkeep"]


def test_readme_has_the_sections_and_a_results_row_per_target(generated: Path) -> None:
    readme = (generated / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("# A Generated Paper\n")
    sections = re.findall(r"^## (.+)$", readme, re.MULTILINE)
    assert {"Architecture", "How to run", "Results"} <= set(sections)
    results = readme.split("## Results", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in results.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    assert header[0] == "target"
    ours = next(i for i, cell in enumerate(header) if cell.startswith("ours"))
    cells = [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]
    assert [row[0] for row in cells] == ["`base-mnist-sample`", "`wide-mnist-sample`"]
    assert [row[ours] for row in cells] == ["—", "—"]  # nothing recorded yet
    assert "9,098" in readme  # SmallCNN's parameters for 10 classes


def test_paper_toml_reads_back_the_answers(generated: Path) -> None:
    data = tomllib.loads((generated / "paper.toml").read_text(encoding="utf-8"))
    assert data["paper"] == {
        "title": "A Generated Paper",
        "authors": ["Ada Lovelace", "Alan Turing"],
        "year": datetime.datetime.now(datetime.timezone.utc).year,
        "url": "https://arxiv.org/abs/1512.03385",
        "arxiv": "1512.03385",
        "task": "image classification",
    }
    assert data["train"]["dataset"] == "mnist-sample"
    assert data["train"]["input_shape"] == [1, 28, 28]
    assert [variant["name"] for variant in data["variants"]] == ["base", "wide"]
    assert [variant["model_args"] for variant in data["variants"]] == [
        {"num_classes": 10, "width": 8}
    ] * 2
    assert [(t["variant"], t["dataset"], t["metric"]) for t in data["targets"]] == [
        ("base", "mnist-sample", "test_accuracy"),
        ("wide", "mnist-sample", "test_accuracy"),
    ]
    assert all(0 < target["bar"] < 1 for target in data["targets"])


def test_titles_and_authors_are_written_as_toml_strings_that_read_back(tmp_path: Path) -> None:
    title = 'Back\\slash, "quotes" and Léon — a title'
    folder = render(tmp_path, title=title, slug="escaped", authors='Léon Bottou, "Q" Person')
    data = tomllib.loads((folder / "paper.toml").read_text(encoding="utf-8"))
    assert data["paper"]["title"] == title
    assert data["paper"]["authors"] == ["Léon Bottou", '"Q" Person']
    assert "url" not in data["paper"]  # no arXiv id and no url given
    assert "arxiv" not in data["paper"]


def test_generated_paper_validates(generated: Path) -> None:
    status, stdout, stderr = run("validate", str(generated))
    assert (status, stdout, stderr) == (0, "generated: valid\n", "")


def test_generated_paper_trains_for_one_epoch(generated: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    status, _, stderr = run(
        "train", str(generated), "--epochs", "1", "--out", str(out), "--no-progress"
    )
    assert status == 0, stderr
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["paper"], summary["variant"], summary["dataset"]) == (
        "generated",
        "base",
        "mnist-sample",
    )
    assert summary["test_accuracy"] > 0.5  # one epoch of a small CNN, far above chance (0.1)


def test_generated_papers_own_tests_pass(generated: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(generated / "tests")],
        cwd=generated.parent,
        env=subprocess_environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b7 passed\b", result.stdout), result.stdout


@pytest.mark.parametrize(
    "answers",
    [
        {},
        {
            "title": 'A "Long" Title — With Léon\\ and a very long list of words to wrap somewhere',
            "slug": "s" * 40,
            "authors": "Léon Bottou, Yann LeCun",
            "dataset": "emnist-balanced",
            "variants": "small, wide-2, x_3",
        },
    ],
    ids=["defaults", "long-answers"],
)
def test_generated_python_is_ruff_clean(answers: dict[str, str], tmp_path: Path) -> None:
    ruff = shutil.which("ruff") or shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        pytest.skip("ruff is not installed (pip install .[test])")
    folder = render(tmp_path, **answers)
    config = str(REPOSITORY / "pyproject.toml")
    for command in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [ruff, *command, "--config", config, str(folder)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr


# --- The questions ------------------------------------------------------------------------------


def test_the_dataset_question_offers_every_catalogued_dataset_mnist_sample_first() -> None:
    assert CONTEXT["dataset"][0] == "mnist-sample"  # bundled: the offline default
    assert set(CONTEXT["dataset"]) == set(DATASETS)
    for name, facts in CONTEXT["_datasets"].items():
        assert facts["classes"] == len(DATASETS[name].classes), name
    assert set(CONTEXT["_datasets"]) == set(DATASETS)


def test_every_question_has_a_prompt() -> None:
    assert new.questions(TEMPLATE) == [
        "title",
        "slug",
        "authors",
        "year",
        "arxiv",
        "url",
        "dataset",
        "task",
        "variants",
    ]
    assert set(CONTEXT["__prompts__"]) == set(new.questions(TEMPLATE))


@pytest.mark.parametrize(("dataset", "classes"), [("fashion-mnist", 10), ("emnist-letters", 26)])
def test_the_model_is_sized_for_the_chosen_dataset(
    dataset: str, classes: int, tmp_path: Path
) -> None:
    folder = render(tmp_path, dataset=dataset)
    data = tomllib.loads((folder / "paper.toml").read_text(encoding="utf-8"))
    assert data["train"]["dataset"] == dataset
    assert data["variants"][0]["model_args"]["num_classes"] == classes
    assert data["targets"][0]["dataset"] == dataset
    assert f"{1248 + 785 * classes:,}" in (folder / "README.md").read_text(encoding="utf-8")


# --- Bad answers --------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", BAD_SLUGS)
def test_cookiecutter_refuses_a_bad_slug_and_leaves_no_folder(
    slug: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(cookiecutter_exceptions.FailedHookException):
        render(tmp_path, slug=slug)
    assert list(tmp_path.iterdir()) == []
    assert BAD_SLUGS[slug] in capfd.readouterr().err


def test_cookiecutter_refuses_to_fill_an_existing_folder(tmp_path: Path) -> None:
    existing = tmp_path / "generated"
    existing.mkdir()
    (existing / "notes.txt").write_text("mine")
    with pytest.raises(cookiecutter_exceptions.OutputDirExistsException):
        render(tmp_path, slug="generated")
    # Even when told to overwrite, the hook refuses and the folder keeps only what it held.
    with pytest.raises(cookiecutter_exceptions.FailedHookException):
        cookiecutter_main.cookiecutter(
            str(TEMPLATE),
            no_input=True,
            extra_context={"slug": "generated"},
            output_dir=str(tmp_path),
            overwrite_if_exists=True,
            default_config=True,
        )
    assert tree(existing) == {"notes.txt": b"mine"}


@pytest.mark.parametrize("slug", [*BAD_SLUGS, "", "a/b", "../up"])
def test_odyssey_new_refuses_a_bad_slug_in_one_line(slug: str, tmp_path: Path) -> None:
    output = tmp_path / "papers"
    status, _, stderr = run("new", slug, "--no-input", "--output-dir", str(output))
    assert status == 2
    assert stderr.startswith("odyssey new: slug: ")
    assert len(stderr.splitlines()) == 1, stderr
    assert not output.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--set", "title"], "--set: expected KEY=VALUE, got 'title'"),
        (["--set", "colour=red"], "--set colour: unknown question; questions: title, slug,"),
        (["--set", "dataset=cifar10"], "dataset: 'cifar10' is not one of mnist-sample, mnist,"),
        (["x", "--set", "slug=y"], "SLUG 'x' and --set slug='y' disagree"),
        (["ok", "--set", "year=98"], "year: '98' is not a year from 1900 to"),
        (["ok", "--set", "arxiv=arXiv:1512"], "arxiv: 'arXiv:1512' is not an arXiv id"),
        (["ok", "--set", "variants=a,A"], "variants: 'A' is not a variant name"),
        (["ok", "--set", "title=Two\nlines"], "title: holds a line break"),
    ],
)
def test_odyssey_new_refuses_a_bad_answer_in_one_line(
    argv: list[str], message: str, tmp_path: Path
) -> None:
    output = tmp_path / "papers"
    status, _, stderr = run("new", *argv, "--no-input", "--output-dir", str(output))
    assert status == 2
    assert stderr.startswith(f"odyssey new: {message}"), stderr
    assert len(stderr.splitlines()) == 1, stderr
    assert not output.exists()


def test_odyssey_new_without_answers_on_standard_input_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    status, _, stderr = run("new", "--output-dir", str(tmp_path / "papers"))
    assert status == 2
    assert stderr.startswith("odyssey new: standard input ended before every question")
    assert list(tmp_path.iterdir()) == []


def test_odyssey_new_lists_every_bad_answer(tmp_path: Path) -> None:
    argv = ["new", "class", "--no-input", "--set", "year=98", "--output-dir", str(tmp_path)]
    status, _, stderr = run(*argv)
    assert status == 2
    assert [line.split(":")[1].strip() for line in stderr.splitlines()] == ["slug", "year"]


def test_odyssey_new_refuses_an_existing_folder(generated: Path) -> None:
    before = tree(generated)
    argv = ["new", "generated", "--no-input", "--output-dir", str(generated.parent)]
    status, _, stderr = run(*argv)
    assert status == 2
    assert stderr == f"odyssey new: slug: {generated} already exists\n"
    assert tree(generated) == before


# --- odyssey new --------------------------------------------------------------------------------


def test_odyssey_new_renders_what_cookiecutter_renders(generated: Path, tmp_path: Path) -> None:
    argv = ["new", "generated", "--no-input", "--output-dir", str(tmp_path)]
    for key, value in ANSWERS.items():
        if key != "slug":
            argv += ["--set", f"{key}={value}"]
    status, _, stderr = run(*argv)
    assert status == 0, stderr
    assert tree(tmp_path / "generated") == tree(generated)


def test_odyssey_new_writes_into_papers_of_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    status, _, stderr = run("new", "first", "--no-input")
    assert status == 0, stderr
    assert (tmp_path / "papers" / "first" / "paper.toml").is_file()
    # Found by slug from here, as `odyssey train first` finds it.
    assert papers.find_paper("first", cwd=tmp_path) == tmp_path / "papers" / "first"


def test_odyssey_new_writes_into_papers_of_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository = tmp_path / "repository"
    (repository / ".git").mkdir(parents=True)
    (repository / "papers").mkdir()
    (repository / "docs").mkdir()
    monkeypatch.chdir(repository / "docs")
    assert new.default_output_dir() == repository / "papers"
    status, _, stderr = run("new", "second", "--no-input")
    assert status == 0, stderr
    assert (repository / "papers" / "second" / "model.py").is_file()


def test_create_paper_returns_the_folder_and_checks_the_answers(tmp_path: Path) -> None:
    folder = new.create_paper({"slug": "third", "dataset": "kmnist"}, output_dir=tmp_path)
    assert folder == tmp_path / "third"
    assert tomllib.loads((folder / "paper.toml").read_text())["train"]["dataset"] == "kmnist"
    with pytest.raises(new.NewPaperError, match="colour: unknown question"):
        new.create_paper({"colour": "red"}, output_dir=tmp_path)


# --- Where the template is ----------------------------------------------------------------------


def test_the_running_package_finds_a_copy_of_the_repositorys_template() -> None:
    # From a source checkout that is cookiecutter-paper/ itself; from an installed wheel, the copy
    # the wheel holds, which must have every file of the repository's.
    found = new.template_dir()
    assert tree(found) == tree(TEMPLATE)


def test_the_template_is_found_inside_an_installed_package(tmp_path: Path) -> None:
    package = tmp_path / "site-packages" / "odyssey"
    shutil.copytree(TEMPLATE, package / "templates" / "cookiecutter-paper")
    assert new.template_dir(package) == package / "templates" / "cookiecutter-paper"


def test_the_template_is_found_at_the_root_of_a_source_checkout(tmp_path: Path) -> None:
    package = tmp_path / "checkout" / "python" / "odyssey"
    package.mkdir(parents=True)
    shutil.copytree(TEMPLATE, tmp_path / "checkout" / "cookiecutter-paper")
    assert new.template_dir(package) == tmp_path / "checkout" / "cookiecutter-paper"
    shutil.rmtree(tmp_path / "checkout" / "cookiecutter-paper")
    with pytest.raises(new.NewPaperError, match="the paper template is missing"):
        new.template_dir(package)


def test_the_wheel_ships_the_template_where_odyssey_new_looks() -> None:
    pyproject = tomllib.loads((REPOSITORY / "pyproject.toml").read_text(encoding="utf-8"))
    packages = pyproject["tool"]["scikit-build"]["wheel"]["packages"]
    assert packages["odyssey/templates/cookiecutter-paper"] == "cookiecutter-paper"
    assert "cookiecutter>=2.6" in pyproject["project"]["dependencies"]


# --- A paper of this repository -----------------------------------------------------------------


def fake_repository(root: Path, pyproject: str) -> Path:
    """A checkout's skeleton: pyproject.toml and an empty papers/; returns papers/."""
    (root / "papers").mkdir(parents=True)
    (root / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    return root / "papers"


def test_a_paper_made_in_the_repository_is_listed_in_pyproject(tmp_path: Path) -> None:
    original = (REPOSITORY / "pyproject.toml").read_text(encoding="utf-8")
    folder = render(fake_repository(tmp_path, original), slug="listed")
    edited = (tmp_path / "pyproject.toml").read_text(encoding="utf-8")
    data = tomllib.loads(edited)
    assert data["project"]["entry-points"]["odyssey.papers"]["listed"] == "odyssey_papers.listed"
    packages = data["tool"]["scikit-build"]["wheel"]["packages"]
    assert packages["odyssey_papers/listed"] == "papers/listed"
    # Two lines added, nothing else changed.
    added = [line for line in edited.splitlines() if line not in original.splitlines()]
    assert added == [
        'listed = "odyssey_papers.listed"',
        '"odyssey_papers/listed" = "papers/listed"',
    ]
    assert folder == tmp_path / "papers" / "listed"


def test_a_pyproject_without_the_tables_is_left_alone(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    pyproject = '[project]\nname = "ml-odyssey"\n'
    render(fake_repository(tmp_path, pyproject), slug="unlisted")
    assert (tmp_path / "pyproject.toml").read_text(encoding="utf-8") == pyproject
    assert 'unlisted = "odyssey_papers.unlisted"' in capfd.readouterr().out


def test_an_interrupted_generation_leaves_no_folder(tmp_path: Path, monkeypatch) -> None:
    real = cookiecutter_main.cookiecutter

    def interrupted(*args, **kwargs):
        real(*args, **kwargs)
        raise KeyboardInterrupt  # after the files are written, before odyssey new returns

    monkeypatch.setattr(cookiecutter_main, "cookiecutter", interrupted)
    status, _, stderr = run("new", "halfway", "--no-input", "-o", str(tmp_path))
    assert status == 130
    assert "no paper written" in stderr
    assert not (tmp_path / "halfway").exists()


def test_an_output_dir_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    status, _, stderr = run("new", "x1", "--no-input", "-o", str(tmp_path / "afile"))
    assert status == 2
    assert stderr.count("\n") == 1
    assert stderr.startswith("odyssey new: ")
