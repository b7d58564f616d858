// Running commands from the tests (the ddbench under test, shell tools): exit code and the output,
// stdout and stderr together.
#pragma once
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

#include "ddbench_config.h"

namespace ddb::testing_support {

struct CommandResult {
  int code = -1;  // the exit code; -1 when the command was killed by a signal
  std::string output;
};

// `cmd` through /bin/sh, its stderr folded into the output.
inline CommandResult shell(const std::string& cmd) {
  CommandResult r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), buf.size(), p)) r.output += buf.data();
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// The ddbench binary of this build with `args`; `env` ("VAR=value ...") is set for it.
inline CommandResult ddbench(const std::string& args, const std::string& env = "") {
  return shell((env.empty() ? std::string() : env + " ") + DDBENCH_BINARY + " " + args);
}

}  // namespace ddb::testing_support
