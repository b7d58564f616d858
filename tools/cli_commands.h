#pragma once
#include <CLI/CLI.hpp>

namespace ddb::cli {
void register_commands(CLI::App& app);
int exit_code();
void set_exit_code(int code);
void register_suite_commands(CLI::App& app);
void register_experts_command(CLI::App& app);  // cli_experts.cpp
}  // namespace ddb::cli
