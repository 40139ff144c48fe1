// ODYSSEY_ASAN is defined where AddressSanitizer instruments the translation unit: GCC says so with
// __SANITIZE_ADDRESS__, Clang with __has_feature(address_sanitizer).
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define ODYSSEY_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ODYSSEY_ASAN 1
#endif
#endif
