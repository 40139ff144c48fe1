// Compiled with the version, compiler and build type as definitions, so that a change to any of
// them rebuilds this file alone.
#include "odyssey/build_info.h"

namespace odyssey {

const char* version() { return ODYSSEY_VERSION; }
const char* compiler() { return ODYSSEY_COMPILER; }
const char* build_type() { return ODYSSEY_BUILD_TYPE; }

}  // namespace odyssey
