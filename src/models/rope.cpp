// RoPE frequency schedules. Each one is written with the same tensor operations, in the same
// order and dtypes, as Transformers' modeling_rope_utils, so inv_freq (and with it every rotary
// embedding) is bit-identical to Python's.
#include "hfcpp/models/rope.h"

#include <ATen/ATen.h>

#include <cmath>
#include <set>
#include <type_traits>

#include "hfcpp/error.h"

namespace hfcpp {
namespace {

const json& rope_scaling_of(const PretrainedConfig& config) {
  static const json null_value = nullptr;
  return config.has("rope_scaling") ? config.at("rope_scaling") : null_value;
}

double scaling_number(const PretrainedConfig& config, const char* key) {
  const json& scaling = rope_scaling_of(config);
  if (!scaling.contains(key) || !scaling[key].is_number())
    throw KeyError(std::string("rope_scaling of type '") + rope_type(config) + "' needs a number '" + key +
                   "', found " + (scaling.contains(key) ? scaling[key].dump() : std::string("nothing")));
  return scaling[key].get<double>();
}

std::optional<double> optional_scaling_number(const PretrainedConfig& config, const char* key) {
  const json& scaling = rope_scaling_of(config);
  if (!scaling.contains(key) || scaling[key].is_null()) return std::nullopt;
  return scaling[key].get<double>();
}

// The rotary dimension: head_dim (or hidden_size / num_attention_heads) times partial_rotary_factor.
std::int64_t rotary_dim(const PretrainedConfig& config) {
  std::int64_t head_dim = config.get_or<std::int64_t>("head_dim", 0);
  if (head_dim == 0) head_dim = config.hidden_size() / config.num_attention_heads();
  const double partial = config.get_or<double>("partial_rotary_factor", 1.0);
  return static_cast<std::int64_t>(static_cast<double>(head_dim) * partial);
}

// arange(0, dim, 2).float() / dim: the exponents of the default schedule.
at::Tensor frequency_exponents(std::int64_t dim) {
  return at::arange(0, dim, 2, at::TensorOptions().dtype(at::kLong)).to(at::kFloat).div(dim);
}

RopeParameters default_parameters(const PretrainedConfig& config) {
  const double base = config.get<double>("rope_theta");
  const std::int64_t dim = rotary_dim(config);
  // 1.0 / (base ** x) is reciprocal(base ** x) in torch.
  return {at::reciprocal(at::pow(at::Scalar(base), frequency_exponents(dim))), 1.0};
}

RopeParameters linear_parameters(const PretrainedConfig& config) {
  RopeParameters p = default_parameters(config);
  p.inv_freq.div_(scaling_number(config, "factor"));
  return p;
}

RopeParameters dynamic_parameters(const PretrainedConfig& config, std::optional<std::int64_t> seq_len) {
  const double base = config.get<double>("rope_theta");
  const std::int64_t dim = rotary_dim(config);
  const std::int64_t max_positions = config.get<std::int64_t>("max_position_embeddings");
  const double factor = scaling_number(config, "factor");
  const double exponent = static_cast<double>(dim) / static_cast<double>(dim - 2);
  if (seq_len && *seq_len > max_positions) {
    // Python gets seq_len as a 0-d int64 tensor here, so the new base is computed in float32.
    const at::Tensor length = at::scalar_tensor(*seq_len, at::kLong);
    const at::Tensor new_base = at::pow(length.mul(factor).div(max_positions).sub(factor - 1.0), exponent).mul(base);
    return {at::reciprocal(at::pow(new_base, frequency_exponents(dim))), 1.0};
  }
  const double length = static_cast<double>(max_positions);
  const double new_base = base * std::pow(factor * length / static_cast<double>(max_positions) - (factor - 1.0), exponent);
  return {at::reciprocal(at::pow(at::Scalar(new_base), frequency_exponents(dim))), 1.0};
}

RopeParameters yarn_parameters(const PretrainedConfig& config) {
  const double base = config.get<double>("rope_theta");
  const std::int64_t dim = rotary_dim(config);
  const double max_positions = config.get<double>("max_position_embeddings");
  const double factor = scaling_number(config, "factor");
  const double attention_factor = optional_scaling_number(config, "attention_factor").value_or(0.1 * std::log(factor) + 1.0);
  // `or` in Python: 0 and null both mean the paper's defaults.
  double beta_fast = optional_scaling_number(config, "beta_fast").value_or(0.0);
  double beta_slow = optional_scaling_number(config, "beta_slow").value_or(0.0);
  if (beta_fast == 0.0) beta_fast = 32.0;
  if (beta_slow == 0.0) beta_slow = 1.0;

  // The dimension at which a frequency completes `rotations` turns over the trained length.
  auto correction_dim = [&](double rotations) {
    return (static_cast<double>(dim) * std::log(max_positions / (rotations * 2.0 * M_PI))) / (2.0 * std::log(base));
  };
  const double low = std::max(std::floor(correction_dim(beta_fast)), 0.0);
  double high = std::min(std::ceil(correction_dim(beta_slow)), static_cast<double>(dim - 1));
  if (low == high) high += 0.001;  // avoids a zero-width ramp

  const at::Tensor pos_freqs = at::pow(at::Scalar(base), frequency_exponents(dim));
  const at::Tensor extrapolation = at::reciprocal(pos_freqs);
  const at::Tensor interpolation = at::reciprocal(pos_freqs.mul(factor));
  const at::Tensor ramp = at::arange(dim / 2, at::TensorOptions().dtype(at::kFloat)).sub(low).div(high - low).clamp(0, 1);
  const at::Tensor extrapolation_factor = at::rsub(ramp, 1);
  const at::Tensor inv_freq =
      interpolation.mul(at::rsub(extrapolation_factor, 1)).add(extrapolation.mul(extrapolation_factor));
  return {inv_freq, attention_factor};
}

RopeParameters longrope_parameters(const PretrainedConfig& config) {
  const double base = config.get<double>("rope_theta");
  const std::int64_t dim = rotary_dim(config);
  const json& scaling = rope_scaling_of(config);
  const auto long_factor = scaling.at("long_factor").get<std::vector<double>>();
  const auto short_factor = scaling.at("short_factor").get<std::vector<double>>();
  std::optional<double> factor = optional_scaling_number(config, "factor");
  std::optional<double> attention_factor = optional_scaling_number(config, "attention_factor");

  // Phi-3 style configs stretch max_position_embeddings and keep the trained length in
  // original_max_position_embeddings; their ratio is then the factor.
  double max_positions = 0, expanded = 0;
  if (config.has("original_max_position_embeddings") && !config.at("original_max_position_embeddings").is_null()) {
    max_positions = config.get<double>("original_max_position_embeddings");
    expanded = config.get<double>("max_position_embeddings");
    factor = expanded / max_positions;
  } else {
    if (!factor) throw KeyError("rope_scaling of type 'longrope' needs 'factor' (or the config original_max_position_embeddings)");
    max_positions = config.get<double>("max_position_embeddings");
    expanded = max_positions * *factor;
  }
  if (!attention_factor)
    attention_factor = *factor <= 1.0 ? 1.0 : std::sqrt(1.0 + std::log(*factor) / std::log(max_positions));

  const auto& chosen = expanded > max_positions ? long_factor : short_factor;
  const at::Tensor ext_factors = at::tensor(std::vector<float>(chosen.begin(), chosen.end()), at::kFloat);
  const at::Tensor inv_freq = at::reciprocal(ext_factors.mul(at::pow(at::Scalar(base), frequency_exponents(dim))));
  return {inv_freq, *attention_factor};
}

RopeParameters llama3_parameters(const PretrainedConfig& config) {
  RopeParameters p = default_parameters(config);
  const double factor = scaling_number(config, "factor");
  const double low_freq_factor = scaling_number(config, "low_freq_factor");
  const double high_freq_factor = scaling_number(config, "high_freq_factor");
  const double old_context_len = scaling_number(config, "original_max_position_embeddings");
  const double low_freq_wavelen = old_context_len / low_freq_factor;
  const double high_freq_wavelen = old_context_len / high_freq_factor;

  const at::Tensor& inv_freq = p.inv_freq;
  const at::Tensor wavelen = at::reciprocal(inv_freq).mul(2 * M_PI);
  // Long wavelengths are divided by factor, short ones kept, the band between interpolated.
  at::Tensor scaled = at::where(wavelen.gt(low_freq_wavelen), inv_freq.div(factor), inv_freq);
  const at::Tensor smooth =
      at::reciprocal(wavelen).mul(old_context_len).sub(low_freq_factor).div(high_freq_factor - low_freq_factor);
  const at::Tensor smoothed = at::rsub(smooth, 1).mul(scaled).div(factor).add(smooth.mul(scaled));
  const at::Tensor is_medium = wavelen.lt(high_freq_wavelen).logical_not().mul(wavelen.gt(low_freq_wavelen).logical_not());
  p.inv_freq = at::where(is_medium, smoothed, scaled);
  return p;
}

const std::set<std::string>& known_types() {
  static const std::set<std::string> types = {"default", "linear", "dynamic", "yarn", "longrope", "llama3"};
  return types;
}

}  // namespace

std::string rope_type(const PretrainedConfig& config) {
  const json& scaling = rope_scaling_of(config);
  if (scaling.is_null()) return "default";
  if (!scaling.is_object()) throw ValueError("config.rope_scaling must be an object or null, found " + scaling.dump());
  std::string type;
  if (scaling.contains("rope_type") && scaling["rope_type"].is_string()) type = scaling["rope_type"].get<std::string>();
  else if (scaling.contains("type") && scaling["type"].is_string()) type = scaling["type"].get<std::string>();
  else throw KeyError("config.rope_scaling has no 'rope_type' (or 'type'): " + scaling.dump());
  if (!known_types().count(type))
    throw ValueError("unknown rope_scaling type '" + type + "': expected default, linear, dynamic, yarn, longrope or llama3");
  return type;
}

void validate_rope_scaling(const PretrainedConfig& config) {
  const std::string type = rope_type(config);
  if (type == "default") return;
  const json& scaling = rope_scaling_of(config);
  std::vector<std::string> required;
  if (type == "linear" || type == "dynamic" || type == "yarn") required = {"factor"};
  if (type == "longrope") required = {"short_factor", "long_factor"};
  if (type == "llama3") required = {"factor", "original_max_position_embeddings", "low_freq_factor", "high_freq_factor"};
  std::string missing;
  for (const auto& key : required)
    if (!scaling.contains(key)) missing += (missing.empty() ? "'" : ", '") + key + "'";
  if (!missing.empty())
    throw KeyError("missing required keys in rope_scaling for rope_type '" + type + "': " + missing);
  if (scaling.contains("factor") && !scaling["factor"].is_null() &&
      (!scaling["factor"].is_number() || scaling["factor"].get<double>() < 1.0))
    throw ValueError("rope_scaling factor must be a number >= 1, found " + scaling["factor"].dump());
  if (type == "longrope") {
    const auto half = static_cast<std::size_t>(rotary_dim(config) / 2);
    for (const char* key : {"short_factor", "long_factor"})
      if (!scaling[key].is_array() || scaling[key].size() != half)
        throw ValueError(std::string("rope_scaling ") + key + " must be a list of " + std::to_string(half) +
                         " numbers (rotary dim / 2), found " + scaling[key].dump());
  }
}

RopeParameters compute_rope_parameters(const PretrainedConfig& config, std::optional<std::int64_t> seq_len) {
  const std::string type = rope_type(config);
  if (type == "default") return default_parameters(config);
  if (type == "linear") return linear_parameters(config);
  if (type == "dynamic") return dynamic_parameters(config, seq_len);
  if (type == "yarn") return yarn_parameters(config);
  if (type == "longrope") return longrope_parameters(config);
  return llama3_parameters(config);
}

RotaryEmbedding::RotaryEmbedding(const PretrainedConfig& config) : nn::Module("RotaryEmbedding"), config_(&config) {
  validate_rope_scaling(config);
  rope_type_ = rope_type(config);
  RopeParameters p = compute_rope_parameters(config);
  attention_scaling_ = p.attention_scaling;
  max_seq_len_cached_ = original_max_seq_len_ = config.get<std::int64_t>("max_position_embeddings");
  original_inv_freq_ = p.inv_freq.clone();
  inv_freq_ = add_buffer("inv_freq", p.inv_freq, /*persistent=*/false);
}

void RotaryEmbedding::update_dynamic_frequencies(const at::Tensor& position_ids) {
  const std::int64_t seq_len = position_ids.max().item<std::int64_t>() + 1;
  // The buffer is updated in place (same shape), so the module keeps one inv_freq tensor.
  at::Tensor& current = inv_freq_;
  if (seq_len > max_seq_len_cached_) {  // grown past what the frequencies were made for
    RopeParameters p = compute_rope_parameters(*config_, seq_len);
    attention_scaling_ = p.attention_scaling;
    current.copy_(p.inv_freq);
    max_seq_len_cached_ = seq_len;
  }
  if (seq_len < original_max_seq_len_ && max_seq_len_cached_ > original_max_seq_len_) {  // back to short inputs
    current.copy_(original_inv_freq_);
    max_seq_len_cached_ = original_max_seq_len_;
  }
}

namespace {

// cos and sin of a few positions (a decoding step) computed in a loop, as the tensor ops below
// compute them (float32 products, cosine and sine, the scaling, one rounding to `dtype`) without
// their ~30 us of dispatch; undefined when the tensor ops must run.
std::pair<at::Tensor, at::Tensor> few_positions(const at::Tensor& position_ids, const at::Tensor& inv_freq,
                                                double attention_scaling, c10::ScalarType dtype) {
  constexpr std::int64_t kFewPositions = 8;
  if (position_ids.numel() > kFewPositions || !position_ids.device().is_cpu() ||
      position_ids.scalar_type() != at::kLong || !position_ids.is_contiguous() || !inv_freq.device().is_cpu() ||
      inv_freq.scalar_type() != at::kFloat || !inv_freq.is_contiguous() || (dtype != at::kFloat && dtype != at::kBFloat16))
    return {};
  const std::int64_t half = inv_freq.numel(), count = position_ids.numel();
  auto shape = position_ids.sizes().vec();
  shape.push_back(2 * half);
  at::Tensor cos = at::empty(shape, at::TensorOptions().dtype(dtype));
  at::Tensor sin = at::empty(shape, at::TensorOptions().dtype(dtype));
  const std::int64_t* position = position_ids.data_ptr<std::int64_t>();
  const float* frequency = inv_freq.data_ptr<float>();
  const auto scaling = static_cast<float>(attention_scaling);
  const auto fill = [&](auto* cos_out, auto* sin_out) {
    using T = std::remove_pointer_t<decltype(cos_out)>;
    for (std::int64_t p = 0; p < count; ++p)
      for (std::int64_t i = 0; i < half; ++i) {
        const float angle = static_cast<float>(position[p]) * frequency[i];
        float c = std::cos(angle), s = std::sin(angle);
        if (attention_scaling != 1.0) {
          c *= scaling;
          s *= scaling;
        }
        cos_out[p * 2 * half + i] = cos_out[p * 2 * half + half + i] = static_cast<T>(c);
        sin_out[p * 2 * half + i] = sin_out[p * 2 * half + half + i] = static_cast<T>(s);
      }
  };
  if (dtype == at::kBFloat16) fill(cos.data_ptr<at::BFloat16>(), sin.data_ptr<at::BFloat16>());
  else fill(cos.data_ptr<float>(), sin.data_ptr<float>());
  return {cos, sin};
}

}  // namespace

std::pair<at::Tensor, at::Tensor> RotaryEmbedding::forward(const at::Tensor& position_ids, c10::ScalarType dtype) {
  nn::ForwardScope hooks(*this);  // post-hooks run as it returns (no output access)
  if (rope_type_ == "dynamic") update_dynamic_frequencies(position_ids);
  if (auto few = few_positions(position_ids, inv_freq_, attention_scaling_, dtype); few.first.defined()) return few;
  const at::Tensor inv_freq = inv_freq_.to(at::kFloat);
  // [batch, seq, 1] * [dim / 2]: the outer product Python computes as a batched matmul with an
  // inner dimension of 1, which is exact either way.
  const at::Tensor freqs = position_ids.to(at::kFloat).unsqueeze(-1).mul(inv_freq.to(position_ids.device()));
  const at::Tensor emb = at::cat({freqs, freqs}, -1);
  at::Tensor cos = emb.cos();
  at::Tensor sin = emb.sin();
  if (attention_scaling_ != 1.0) {
    cos = cos.mul(attention_scaling_);
    sin = sin.mul(attention_scaling_);
  }
  return {cos.to(dtype), sin.to(dtype)};
}

at::Tensor rotate_half(const at::Tensor& x) {
  const std::int64_t half = x.size(-1) / 2;
  return at::cat({x.slice(-1, half).neg(), x.slice(-1, 0, half)}, -1);
}

std::pair<at::Tensor, at::Tensor> apply_rotary_pos_emb(const at::Tensor& q, const at::Tensor& k, const at::Tensor& cos,
                                                       const at::Tensor& sin) {
  const at::Tensor c = cos.unsqueeze(1);
  const at::Tensor s = sin.unsqueeze(1);
  return {q.mul(c).add(rotate_half(q).mul(s)), k.mul(c).add(rotate_half(k).mul(s))};
}

}  // namespace hfcpp
