// What was built, and how: reported by odyssey.cpu_info() and `odyssey doctor`.
#pragma once

namespace odyssey {

const char* version();
const char* compiler();
const char* build_type();

}  // namespace odyssey
