#!/usr/bin/python3
"""Reference inverse frequencies for every RoPE scaling type, computed in float64 with numpy from
the published formulas (RoFormer; linear position interpolation; dynamic NTK; YaRN; LongRoPE;
Llama 3.1), independently of Transformers and of hfcpp. Writes rope_reference.json next to this
file. Run: /usr/bin/python3 tests/data/llama/make_rope_reference.py"""
import json
import math
import os

import numpy as np

BASE = {"hidden_size": 64, "num_attention_heads": 4, "max_position_embeddings": 128, "rope_theta": 10000.0}


def default_inv_freq(theta, dim):
    # theta^(-2i/d) for i = 0 .. d/2 - 1
    return 1.0 / theta ** (np.arange(0, dim, 2, dtype=np.float64) / dim)


def head_dim(config):
    return config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]


def rotary_dim(config):
    return int(head_dim(config) * config.get("partial_rotary_factor", 1.0))


def reference(config, seq_len=None):
    scaling = config.get("rope_scaling") or {"rope_type": "default"}
    kind = scaling.get("rope_type", scaling.get("type"))
    theta, dim, max_pos = config["rope_theta"], rotary_dim(config), config["max_position_embeddings"]
    if kind == "default":
        return default_inv_freq(theta, dim), 1.0
    if kind == "linear":  # positions divided by the factor
        return default_inv_freq(theta, dim) / scaling["factor"], 1.0
    if kind == "dynamic":  # NTK-aware base growth with the sequence length
        length = seq_len if seq_len is not None and seq_len > max_pos else max_pos
        f = scaling["factor"]
        new_theta = theta * ((f * length / max_pos) - (f - 1)) ** (dim / (dim - 2))
        return default_inv_freq(new_theta, dim), 1.0
    if kind == "yarn":
        f = scaling["factor"]
        beta_fast = scaling.get("beta_fast") or 32
        beta_slow = scaling.get("beta_slow") or 1
        mscale = scaling.get("attention_factor")
        if mscale is None:
            mscale = 0.1 * math.log(f) + 1.0

        def dim_for_rotations(r):  # the dimension whose wavelength fits r times in max_pos
            return dim * math.log(max_pos / (r * 2 * math.pi)) / (2 * math.log(theta))

        low = max(math.floor(dim_for_rotations(beta_fast)), 0)
        high = min(math.ceil(dim_for_rotations(beta_slow)), dim - 1)
        if low == high:
            high += 0.001
        ramp = np.clip((np.arange(dim // 2, dtype=np.float64) - low) / (high - low), 0, 1)
        extrapolation_weight = 1 - ramp  # 1: keep the original frequency, 0: interpolate by f
        inv = default_inv_freq(theta, dim)
        return inv / f * (1 - extrapolation_weight) + inv * extrapolation_weight, mscale
    if kind == "longrope":
        if "original_max_position_embeddings" in config:
            trained, expanded = config["original_max_position_embeddings"], max_pos
            f = expanded / trained
        else:
            f = scaling["factor"]
            trained, expanded = max_pos, max_pos * f
        mscale = scaling.get("attention_factor")
        if mscale is None:
            mscale = 1.0 if f <= 1.0 else math.sqrt(1 + math.log(f) / math.log(trained))
        factors = np.array(scaling["long_factor"] if expanded > trained else scaling["short_factor"], dtype=np.float64)
        return default_inv_freq(theta, dim) / factors, mscale
    if kind == "llama3":
        f = scaling["factor"]
        lo, hi, old = scaling["low_freq_factor"], scaling["high_freq_factor"], scaling["original_max_position_embeddings"]
        inv = default_inv_freq(theta, dim)
        out = []
        for x in inv:
            wavelength = 2 * math.pi / x
            if wavelength < old / hi:  # high frequencies: unchanged
                out.append(x)
            elif wavelength > old / lo:  # low frequencies: interpolated by the factor
                out.append(x / f)
            else:  # between: blend
                smooth = (old / wavelength - lo) / (hi - lo)
                out.append((1 - smooth) * x / f + smooth * x)
        return np.array(out), 1.0
    raise ValueError(kind)


CASES = {
    "default": {},
    "default_head_dim_and_partial": {"head_dim": 24, "partial_rotary_factor": 0.5, "rope_theta": 500000.0},
    "linear": {"rope_scaling": {"rope_type": "linear", "factor": 4.0}},
    "linear_legacy_type": {"rope_scaling": {"type": "linear", "factor": 2.0}},
    "dynamic": {"rope_scaling": {"rope_type": "dynamic", "factor": 2.0}},
    "yarn": {"rope_scaling": {"rope_type": "yarn", "factor": 4.0}},
    "yarn_options": {"rope_scaling": {"rope_type": "yarn", "factor": 8.0, "attention_factor": 1.5, "beta_fast": 16,
                                      "beta_slow": 2}},
    "longrope": {"rope_scaling": {"rope_type": "longrope", "factor": 4.0,
                                  "short_factor": [1.0, 1.1, 1.2, 1.3, 1.5, 1.8, 2.0, 2.5],
                                  "long_factor": [1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0]}},
    "longrope_short": {"rope_scaling": {"rope_type": "longrope", "factor": 1.0,
                                        "short_factor": [1.0, 1.1, 1.2, 1.3, 1.5, 1.8, 2.0, 2.5],
                                        "long_factor": [1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0]}},
    "longrope_original_max": {"max_position_embeddings": 512, "original_max_position_embeddings": 128,
                              "rope_scaling": {"rope_type": "longrope",
                                               "short_factor": [1.0, 1.1, 1.2, 1.3, 1.5, 1.8, 2.0, 2.5],
                                               "long_factor": [1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0]}},
    "llama3": {"rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}},
}


def main():
    out = {"note": "float64 numpy, from the published formulas; see make_rope_reference.py", "cases": {}}
    for name, overrides in CASES.items():
        config = dict(BASE, **overrides)
        inv, scale = reference(config)
        entry = {"config": config, "inv_freq": inv.tolist(), "attention_scaling": scale}
        if name == "dynamic":
            grown, _ = reference(config, seq_len=300)
            entry["seq_len"] = 300
            entry["inv_freq_at_seq_len"] = grown.tolist()
        out["cases"][name] = entry
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rope_reference.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
