// Logging: spdlog with one pattern for the whole process. Messages are written
// as "event key=value ..." so that logs can be grepped and parsed.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace parley {

// Sets the pattern and level ("trace".."off"); call once at start-up.
void InitLogging(std::string_view level);

}  // namespace parley
