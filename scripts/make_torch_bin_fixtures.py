#!/usr/bin/python3
"""Writes the torch.save reference files of tests/data/io/bin/torch_save/ with Debian's
python3-torch (1.13). tests/io/test_torch_bin.cpp rebuilds the same tensors in C++ (see
`reference_state_dict` there) and expects save_torch_bin to write `state.bin` byte for byte.

    /usr/bin/python3 scripts/make_torch_bin_fixtures.py tests/data/io/bin/torch_save
"""
import sys
from collections import OrderedDict
from pathlib import Path

import torch


def reference_state_dict():
    sd = OrderedDict()
    w = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 8
    sd["w"] = w
    sd["w_t"] = w.t()              # non-contiguous view of w's storage
    sd["row"] = w[1]               # view with a storage offset
    sd["bf16"] = (torch.arange(5, dtype=torch.float32) - 2).to(torch.bfloat16) / 4
    sd["f16"] = (torch.arange(4, dtype=torch.float32) / 3).to(torch.float16)
    sd["f64"] = torch.arange(3, dtype=torch.float64) / 7
    sd["i64"] = torch.tensor([-(2 ** 40), -1, 0, 2 ** 40], dtype=torch.int64)
    sd["i32"] = torch.arange(-3, 3, dtype=torch.int32)
    sd["i16"] = torch.arange(-2, 2, dtype=torch.int16)
    sd["i8"] = torch.arange(-4, 4, dtype=torch.int8)
    sd["u8"] = (torch.arange(70000) % 251).to(torch.uint8)  # numel > 65535: BININT in the pickle
    sd["flags"] = torch.arange(6) % 3 == 0
    sd["scalar"] = torch.tensor(7.5)
    sd["empty"] = torch.zeros(0, 3)
    return sd


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    sd = reference_state_dict()
    torch.save(sd, out / "state.bin")
    # The legacy layout with the same tensors: unaligned storages, shared views.
    torch.save(sd, out / "state_legacy.bin", _use_new_zipfile_serialization=False)
    # Pickle protocol 4 (FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL) in both layouts.
    torch.save(sd, out / "state_protocol4.bin", pickle_protocol=4)
    torch.save(sd, out / "state_legacy_protocol4.bin", pickle_protocol=4, _use_new_zipfile_serialization=False)


if __name__ == "__main__":
    main()
