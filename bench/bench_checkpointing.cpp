// Gradient checkpointing: peak memory and time of a training step (forward + backward) of a
// randomly initialised BERT-base BertModel (from_config: hidden 768, 12 layers, 12 heads,
// intermediate 3072, vocab 30522), batch 8, seq 512, train mode (dropout 0.1), loss =
// mean(last_hidden_state^2), with and without gradient_checkpointing_enable().
//
//   bench_checkpointing [--runs N] [--batch B] [--seq S] [--steps 1|2]
//
// Each case runs in a fresh process (this binary re-executes itself) that builds the model, then
// runs --steps steps (default 2): the first on cold memory, the second on memory the first freed.
// The process's peak RSS (VmHWM, = getrusage ru_maxrss) covers them all; "model" is the RSS once the model is built,
// so peak - model is what the step costs (activations kept for backward + gradients + temporaries).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <iostream>
#include <sstream>

#include "common/bench_util.h"
#include "hfcpp/models/bert.h"
#include "hfcpp/runtime.h"

using namespace hfcpp;
using hfcpp::bench::now_seconds;

namespace {

double vm_hwm_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
  return 0;
}

// Child: prints "model_rss peak_hwm peak_maxrss step1_forward step1_backward step2_forward step2_backward"
// (0 for a step not run).
int run_case(bool checkpointing, std::int64_t batch, std::int64_t seq, int steps) {
  configure_threads();
  at::manual_seed(0);
  PretrainedConfig config = PretrainedConfig::for_model_type("bert");  // BERT-base defaults
  auto model = from_config<BertModel>(config);
  model->train();
  if (checkpointing) model->gradient_checkpointing_enable();
  const double model_rss = hfcpp::bench::current_rss_mib();

  ModelInputs inputs;
  inputs.input_ids = at::randint(1, config.vocab_size(), {batch, seq}, at::kLong);
  inputs.attention_mask = at::ones({batch, seq}, at::kLong);
  std::vector<double> times(4, 0.0);
  for (int step = 0; step < steps; ++step) {
    for (auto& p : model->parameters()) p.mutable_grad() = at::Tensor();
    double start = now_seconds();
    at::Tensor loss = model->forward(inputs).last_hidden_state().pow(2).mean();
    times[2 * step] = now_seconds() - start;
    start = now_seconds();
    loss.backward();
    times[2 * step + 1] = now_seconds() - start;
  }
  std::cout << model_rss << " " << vm_hwm_mib() << " " << hfcpp::bench::peak_rss_mib();
  for (double t : times) std::cout << " " << t;
  std::cout << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 1, steps = 2;
  std::int64_t batch = 8, seq = 512;
  std::string child_case;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--runs" && i + 1 < argc) runs = std::atoi(argv[++i]);
    else if (arg == "--batch" && i + 1 < argc) batch = std::atoll(argv[++i]);
    else if (arg == "--seq" && i + 1 < argc) seq = std::atoll(argv[++i]);
    else if (arg == "--steps" && i + 1 < argc) steps = std::clamp(std::atoi(argv[++i]), 1, 2);
    else if (arg == "--case" && i + 1 < argc) child_case = argv[++i];
  }
  if (!child_case.empty()) return run_case(child_case == "on", batch, seq, steps);

  struct Row {
    std::string label;
    std::vector<double> model, hwm, maxrss, fwd1, bwd1, fwd2, bwd2;
  };
  std::vector<Row> rows;
  for (const auto& [name, label] : std::vector<std::pair<std::string, std::string>>{
           {"off", "without checkpointing"}, {"on", "gradient_checkpointing_enable()"}}) {
    Row row{label};
    for (int r = 0; r < runs; ++r) {
      std::istringstream out(hfcpp::bench::run_child(
          {argv[0], "--case", name, "--batch", std::to_string(batch), "--seq", std::to_string(seq), "--steps",
           std::to_string(steps)}));
      double v[7] = {};
      for (double& x : v) out >> x;
      row.model.push_back(v[0]);
      row.hwm.push_back(v[1]);
      row.maxrss.push_back(v[2]);
      row.fwd1.push_back(v[3]);
      row.bwd1.push_back(v[4]);
      row.fwd2.push_back(v[5]);
      row.bwd2.push_back(v[6]);
    }
    rows.push_back(std::move(row));
  }

  using hfcpp::bench::median;
  std::cout << "\nGradient checkpointing: BERT-base BertModel (from_config, random), batch " << batch << ", seq " << seq
            << ", train mode, forward + backward of mean(last_hidden_state^2)\n"
            << "command: " << argv[0] << " --runs " << runs << " --batch " << batch << " --seq " << seq << " --steps "
            << steps << "\n"
            << "threads: " << describe(configure_threads()) << "; " << hfcpp::bench::thread_settings()
            << "; each case a fresh process, medians of " << runs << "\n\n"
            << "| case | RSS after model MiB | peak RSS MiB (VmHWM) | peak - model MiB | step 1 fwd s | step 1 bwd s "
               "| step 2 fwd s | step 2 bwd s |\n|---|---|---|---|---|---|---|---|\n";
  for (const auto& row : rows) {
    std::cout << "| " << row.label << " | " << static_cast<long>(median(row.model)) << " | "
              << static_cast<long>(median(row.hwm)) << " | " << static_cast<long>(median(row.hwm) - median(row.model))
              << " | " << median(row.fwd1) << " | " << median(row.bwd1) << " | " << median(row.fwd2) << " | "
              << median(row.bwd2) << " |\n";
  }
  std::cout << "\n(ru_maxrss agrees with VmHWM: ";
  for (const auto& row : rows) std::cout << static_cast<long>(median(row.maxrss)) << " MiB ";
  std::cout << ")\n";
  return 0;
}
