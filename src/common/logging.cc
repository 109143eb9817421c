#include "common/logging.h"

#include <spdlog/sinks/stdout_sinks.h>

namespace parley {

void InitLogging(std::string_view level) {
  // stdout, flushed per line: tools wait for the "listening" line.
  auto logger = spdlog::stdout_logger_mt("parley");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z level=%l thread=%t %v");
  spdlog::set_level(spdlog::level::from_str(std::string(level)));
  spdlog::flush_on(spdlog::level::trace);
}

}  // namespace parley
