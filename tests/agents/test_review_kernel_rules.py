"""The kernel rules of DESIGN §2 on fixture diffs: each rule fires on the line that breaks it,
and stays silent on a change that keeps it."""

from __future__ import annotations

from agents.review_fixtures import DictTree, diff_of

from odyssey.agents.review.diff import parse_diff
from odyssey.agents.review.kernel_rules import check_kernel_rules

HEADER = """\
#pragma once
#include <cstddef>

namespace odyssey {

struct ScaleKernels {
  void (*scale)(const float* x, float s, float* out, std::size_t n);
};

namespace scalar {
extern const ScaleKernels kScale;
}

void scale(const float* x, float s, float* out, std::size_t n);

}  // namespace odyssey
"""
SCALAR = """\
#include "odyssey/scale.h"

namespace odyssey::scalar {
namespace {
void scale(const float* x, float s, float* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = x[i] * s;
}
}  // namespace

const ScaleKernels kScale{.scale = scale};

}  // namespace odyssey::scalar
"""
AVX2 = """\
#include "odyssey/simd/vec_avx2.h"
#include "scale_simd.h"

namespace odyssey::avx2 {

const ScaleKernels kScale = simd::scale_kernels_for<Vec>();

}  // namespace odyssey::avx2
"""
TEST = """\
#include "odyssey/scale.h"
int main() { odyssey::scale(nullptr, 1.0f, nullptr, 0); }
"""
BASE = {
    "cpp/include/odyssey/scale.h": HEADER,
    "cpp/src/scale/scale_scalar.cc": SCALAR,
    "cpp/tests/test_scale.cc": TEST,
}


def review(before: dict[str, str], after: dict[str, str]) -> list[tuple[str, int, str, str]]:
    """(file, line, severity, rule) of every kernel finding on the change from before to after."""
    changes = {
        path: (before.get(path), after.get(path))
        for path in sorted(before.keys() | after.keys())
        if before.get(path) != after.get(path)
    }
    diffs = parse_diff(diff_of(changes))
    found = check_kernel_rules(diffs, DictTree(after))
    return sorted((f.file, f.line, f.severity, f.rule) for f in found)


def test_a_complete_new_family_passes() -> None:
    after = {**BASE, "cpp/src/scale/scale_avx2.cc": AVX2}
    assert review({}, after) == []


def test_a_new_isa_file_without_its_scalar_reference() -> None:
    after = {**BASE, "cpp/src/scale/fused_avx2.cc": AVX2}
    assert review(BASE, after) == [
        ("cpp/src/scale/fused_avx2.cc", 1, "error", "kernel/scalar-reference")
    ]


def test_a_new_isa_file_of_a_family_without_a_test() -> None:
    before = {path: text for path, text in BASE.items() if "tests" not in path}
    after = {**before, "cpp/src/scale/scale_avx2.cc": AVX2}
    assert review(before, after) == [("cpp/src/scale/scale_avx2.cc", 1, "error", "kernel/test")]


def test_an_isa_file_in_another_isas_namespace() -> None:
    wrong = AVX2.replace("odyssey::avx2", "odyssey::avx512")
    after = {**BASE, "cpp/src/scale/scale_avx2.cc": wrong}
    found = review(BASE, after)
    assert ("cpp/src/scale/scale_avx2.cc", 4, "error", "kernel/isa-namespace") in found
    # and the file has no namespace of its own ISA at all
    assert ("cpp/src/scale/scale_avx2.cc", 1, "error", "kernel/isa-namespace") in found


def test_a_new_table_member_missing_from_the_scalar_table() -> None:
    header = HEADER.replace(
        "  void (*scale)(const float* x, float s, float* out, std::size_t n);\n",
        "  void (*scale)(const float* x, float s, float* out, std::size_t n);\n"
        "  void (*shift)(const float* x, float s, float* out, std::size_t n);\n",
    )
    after = {**BASE, "cpp/include/odyssey/scale.h": header}
    assert review(BASE, after) == [
        ("cpp/include/odyssey/scale.h", 8, "error", "kernel/scalar-reference")
    ]
    scalar = SCALAR.replace("{.scale = scale}", "{.scale = scale, .shift = scale}")
    assert review(BASE, {**after, "cpp/src/scale/scale_scalar.cc": scalar}) == []


def test_a_new_table_without_any_scalar_table() -> None:
    after = {"cpp/include/odyssey/scale.h": HEADER, "cpp/tests/test_scale.cc": TEST}
    assert review({}, after) == [
        ("cpp/include/odyssey/scale.h", 6, "error", "kernel/scalar-reference")
    ]


def test_a_new_kernel_function_no_test_calls() -> None:
    header = HEADER.replace(
        "void scale(const float* x, float s, float* out, std::size_t n);\n",
        "void scale(const float* x, float s, float* out, std::size_t n);\n"
        "void scale_inplace(float* x, float s, std::size_t n);\n",
    )
    after = {**BASE, "cpp/include/odyssey/scale.h": header}
    assert review(BASE, after) == [("cpp/include/odyssey/scale.h", 15, "warning", "kernel/test")]
    tested = TEST.replace("}\n", "  odyssey::scale_inplace(nullptr, 1.0f, 0);\n}\n")
    assert review(BASE, {**after, "cpp/tests/test_scale.cc": tested}) == []


def test_helpers_beside_the_kernels_need_no_test_of_their_own() -> None:
    # Shape arithmetic, option scalars and names are not kernels: only functions on buffers,
    # defined out of line (the ISA entry points), are held to DESIGN §2's tests.
    header = HEADER.replace(
        "void scale(const float* x, float s, float* out, std::size_t n);\n",
        "void scale(const float* x, float s, float* out, std::size_t n);\n"
        "inline std::size_t scaled_size(std::size_t n,\n"
        "                               std::size_t step) { return n * step; }\n"
        "inline bool scale_plain(const float* x) { return x != nullptr; }\n"
        "const char* scale_name(int which);\n"
        "ScaleScalars scale_scalars(const ScaleOptions& options);\n"
        "void scale_rows(std::size_t rows,\n"
        "                const float* x, float* out);\n",
    )
    after = {**BASE, "cpp/include/odyssey/scale.h": header}
    assert review(BASE, after) == [("cpp/include/odyssey/scale.h", 20, "warning", "kernel/test")]


def test_the_current_tree_has_no_untested_kernel() -> None:
    # The whole tree as one added change: every rule on every line (issue 15's own check of the
    # rules against false positives). Skipped outside a git checkout.
    from pathlib import Path

    import pytest
    from agents.review_fixtures import changed

    from odyssey.agents.review.repo import GitError, GitTree, resolve

    root = Path(__file__).resolve().parents[2]
    try:
        tree = GitTree(root, resolve(root, "HEAD"))
        paths = [path for path in tree.paths() if path.startswith("cpp/")]
    except (GitError, OSError):
        pytest.skip("not a git checkout")
    text = "".join(changed(path, None, tree.read(path)) for path in paths if tree.read(path))
    assert [(f.file, f.line, f.rule) for f in check_kernel_rules(parse_diff(text), tree)] == []


def test_avx_intrinsics_outside_an_isa_file() -> None:
    front = (
        '#include "odyssey/scale.h"\n#include <immintrin.h>\n\nvoid f(float* p) {\n'
        "  __m256 v = _mm256_loadu_ps(p);\n  // _mm256_add_ps in a comment is fine\n}\n"
    )
    after = {**BASE, "cpp/src/scale/scale.cc": front}
    assert review(BASE, after) == [
        ("cpp/src/scale/scale.cc", 2, "error", "kernel/isa-isolation"),
        ("cpp/src/scale/scale.cc", 5, "error", "kernel/isa-isolation"),
    ]
    # SSE is the x86-64 baseline: _mm_getcsr may be used anywhere.
    sse = {**BASE, "cpp/src/scale/csr.cc": "unsigned f() { return _mm_getcsr(); }\n"}
    assert review(BASE, sse) == []


def test_global_isa_flags_and_fast_math_in_the_build() -> None:
    before = {"CMakeLists.txt": "project(x)\n", "cmake/OdysseyIsa.cmake": "set(A 1)\n"}
    after = {
        "CMakeLists.txt": "project(x)\nadd_compile_options(-O3 -mavx2)\n# never -ffast-math\n"
        'set(CMAKE_CXX_FLAGS "${CMAKE_CXX_FLAGS} -ffast-math")\n',
        "cmake/OdysseyIsa.cmake": 'set(A 1)\ncheck_cxx_compiler_flag("-mavx2 -mfma" HAS)\n'
        "set(ODYSSEY_FLAGS_avx2 -mavx2 -mfma)\n",
    }
    assert review(before, after) == [
        ("CMakeLists.txt", 2, "error", "kernel/global-isa-flags"),
        ("CMakeLists.txt", 4, "error", "kernel/no-fast-math"),
    ]


def test_fast_math_pragma_in_a_kernel() -> None:
    scalar = SCALAR.replace(
        "namespace odyssey::scalar {\n",
        '#pragma GCC optimize("fast-math")\nnamespace odyssey::scalar {\n',
    )
    after = {**BASE, "cpp/src/scale/scale_scalar.cc": scalar}
    assert review(BASE, after) == [
        ("cpp/src/scale/scale_scalar.cc", 3, "error", "kernel/no-fast-math")
    ]


def test_a_table_filled_by_position() -> None:
    scalar = SCALAR.replace("{.scale = scale}", "{scale}")
    after = {**BASE, "cpp/src/scale/scale_scalar.cc": scalar}
    found = review(BASE, after)
    assert ("cpp/src/scale/scale_scalar.cc", 10, "error", "kernel/table-by-name") in found


BINDING = """\
#include "bindings.h"

void bind_scale(py::module_& m) {
  m.def("scale", &scale_binding, py::arg("x"), py::arg("s"));
}
"""


def test_a_new_binding_must_be_fuzzed_self_tested_and_typed() -> None:
    binding = BINDING.replace(
        "}\n", '  m.def(\n      "scale_inplace", &scale_inplace_binding, py::arg("x"));\n}\n'
    )
    registered = {
        "tests/test_fuzz.py": 'RAW = {"scale": call()}\n',
        "python/odyssey/tools/selftest.py": 'Family("scale", ("scale",), _scale)\n',
        "python/odyssey/_kernels.pyi": "def scale(x, s): ...\n",
    }
    before = {**BASE, **registered, "cpp/bindings/scale.cc": BINDING}
    after = {**before, "cpp/bindings/scale.cc": binding}
    assert review(before, after) == [
        ("cpp/bindings/scale.cc", 6, "error", "kernel/binding-registered")
    ]
    done = {
        "tests/test_fuzz.py": 'RAW = {"scale": call(), "scale_inplace": call()}\n',
        "python/odyssey/tools/selftest.py": 'Family("scale", ("scale", "scale_inplace"), _s)\n',
        "python/odyssey/_kernels.pyi": "def scale(x, s): ...\ndef scale_inplace(x): ...\n",
    }
    assert review(before, {**after, **done}) == []


def test_old_violations_outside_the_change_are_not_blamed_on_it() -> None:
    bad = {**BASE, "CMakeLists.txt": "add_compile_options(-mavx2)\n"}
    after = {**bad, "CMakeLists.txt": "add_compile_options(-mavx2)\nproject(x)\n"}
    assert review(bad, after) == []


def test_a_positional_scalar_table_is_reported_once_not_per_member() -> None:
    header = HEADER.replace(
        "  void (*scale)(const float* x, float s, float* out, std::size_t n);\n",
        "  void (*scale)(const float* x, float s, float* out, std::size_t n);\n"
        "  void (*shift)(const float* x, float s, float* out, std::size_t n);\n",
    )
    scalar = SCALAR.replace("{.scale = scale}", "{scale, scale}")
    after = {
        **BASE,
        "cpp/include/odyssey/scale.h": header,
        "cpp/src/scale/scale_scalar.cc": scalar,
    }
    assert review(BASE, after) == [
        ("cpp/src/scale/scale_scalar.cc", 10, "error", "kernel/table-by-name")
    ]
