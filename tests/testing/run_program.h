// Runs a program (the evenhand CLI, evenhandd --print_config) to its end
// and keeps what it printed and how it exited: for tests of what a person
// at a terminal sees.
#ifndef EVENHAND_TESTS_TESTING_RUN_PROGRAM_H_
#define EVENHAND_TESTS_TESTING_RUN_PROGRAM_H_

#include <sys/wait.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace evenhand::testing {

struct ProgramResult {
  int exit_code = -1;  // -1 if it did not exit (a signal)
  std::string output;  // stdout and stderr
};

// `program` with `args`, each quoted for the shell (none may hold a
// single quote).
inline ProgramResult RunProgram(const std::string& program, const std::vector<std::string>& args) {
  std::string command = program;
  for (const std::string& a : args) absl::StrAppend(&command, " '", a, "'");
  absl::StrAppend(&command, " 2>&1");
  ProgramResult r;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return r;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), p)) > 0) r.output.append(buffer, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace evenhand::testing

#endif  // EVENHAND_TESTS_TESTING_RUN_PROGRAM_H_
