// The subcommands of the hfcpp tool. Each adds itself to the app with its options and a callback;
// callbacks report failure by throwing (hfcpp::Error for anything the user can fix), which main()
// turns into one line on stderr and a non-zero exit code.
#pragma once

namespace CLI {
class App;
}

namespace hfcpp::cli {

void add_inspect_command(CLI::App& app);
void add_convert_command(CLI::App& app);
void add_demo_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_forward_command(CLI::App& app);
void add_info_command(CLI::App& app);
void add_encode_command(CLI::App& app);
void add_decode_command(CLI::App& app);

}  // namespace hfcpp::cli
