#pragma once
#include <CLI/CLI.hpp>

namespace ddb::cli {
void register_commands(CLI::App& app);
int exit_code();
void set_exit_code(int code);
void register_suite_commands(CLI::App& app);
}  // namespace ddb::cli
