// The `rlvr` binary: every subcommand is registered by a file in tools/commands/.
#include "tools/cli.h"
#include "tools/thread_env.h"

int main(int argc, char** argv) {
  rlvr::tools::ensure_thread_env(argv);  // may re-exec once so OpenMP/OpenBLAS see the settings
  return rlvr::tools::run_cli(argc, argv);
}
