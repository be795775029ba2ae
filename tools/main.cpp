// The `rlvr` binary: every subcommand is registered by a file in tools/commands/.
#include "tools/cli.h"

int main(int argc, char** argv) { return rlvr::tools::run_cli(argc, argv); }
