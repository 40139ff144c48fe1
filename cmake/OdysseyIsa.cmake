# Decides which ISA variants this build compiles and with which flags. Results:
#   ODYSSEY_ISA_VARIANTS  list of variant names (scalar always first)
#   ODYSSEY_FLAGS_<name>  compile options for that variant's translation units
include(CheckCXXCompilerFlag)

set(ODYSSEY_ISA_VARIANTS scalar)
set(ODYSSEY_FLAGS_scalar "")

string(TOLOWER "${CMAKE_SYSTEM_PROCESSOR}" _odyssey_cpu)
if(_odyssey_cpu MATCHES "^(x86_64|amd64|x64)$")
  check_cxx_compiler_flag("-mavx2 -mfma" ODYSSEY_CXX_HAS_AVX2)
  check_cxx_compiler_flag("-mavx512f -mavx2 -mfma" ODYSSEY_CXX_HAS_AVX512F)
  if(ODYSSEY_CXX_HAS_AVX2)
    list(APPEND ODYSSEY_ISA_VARIANTS avx2)
    set(ODYSSEY_FLAGS_avx2 -mavx2 -mfma)
  endif()
  if(ODYSSEY_CXX_HAS_AVX512F)
    list(APPEND ODYSSEY_ISA_VARIANTS avx512)
    set(ODYSSEY_FLAGS_avx512 -mavx512f -mavx2 -mfma)
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
      # GCC 12's own avx512fintrin.h trips -Wuninitialized in _mm512_undefined_* (GCC bug 105593).
      list(APPEND ODYSSEY_FLAGS_avx512 -Wno-uninitialized -Wno-maybe-uninitialized)
    endif()
  endif()
elseif(_odyssey_cpu MATCHES "^(aarch64|arm64)$")
  # NEON (Advanced SIMD) is part of the AArch64 baseline: no extra flag is needed.
  list(APPEND ODYSSEY_ISA_VARIANTS neon)
  set(ODYSSEY_FLAGS_neon "")
endif()
message(STATUS "ML Odyssey ISA variants: ${ODYSSEY_ISA_VARIANTS}")
