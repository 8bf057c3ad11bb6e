#!/usr/bin/env python3
"""Copies the fixture files the sharding and CLI tests need into tests/data/sharding/ and records
each model's state-dict order.

Why the order comes from the .bin: split_state_dict_into_shards walks the state dict in
`model.state_dict()` order, but every safetensors file (and every index json) is sorted by name.
`save_pretrained(safe_serialization=False)` writes one shard as `{key: state_dict[key] for key in
state_dict}` with torch.save, and pickle stores dict items in insertion order, so the unsharded
`formats/bin/pytorch_model.bin` holds the keys in state-dict order, tied duplicates included (they
name the same storage). This script reads that pickle with the standard library only (no torch).

Usage: python3 tests/data/sharding/make_sharding_data.py [/work/shared/fixtures]
"""
import json
import pickle
import shutil
import sys
import zipfile
from pathlib import Path

FIXTURES = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/fixtures")
OUT = Path(__file__).resolve().parent
MODELS = {"bert": "bert/BertForMaskedLM", "gpt2": "gpt2/GPT2LMHeadModel", "llama": "llama/LlamaForCausalLM"}
STORAGE_DTYPES = {"FloatStorage": "float32", "HalfStorage": "float16", "BFloat16Storage": "bfloat16",
                  "DoubleStorage": "float64", "LongStorage": "int64", "IntStorage": "int32",
                  "BoolStorage": "bool", "ByteStorage": "uint8"}


class Tensor:
    def __init__(self, storage, offset, shape):
        self.storage, self.offset, self.shape = storage, offset, list(shape)


class StateDictUnpickler(pickle.Unpickler):
    """Understands only what torch.save writes for a state dict; anything else is refused."""

    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return lambda storage, offset, shape, stride, *rest: Tensor(storage, offset, shape)
        if (module, name) == ("collections", "OrderedDict"):
            return dict
        if module == "torch" and name in STORAGE_DTYPES:
            return STORAGE_DTYPES[name]
        raise pickle.UnpicklingError(f"unexpected global {module}.{name}")

    def persistent_load(self, pid):
        kind, dtype, key, location, numel = pid
        assert kind == "storage"
        return {"key": key, "dtype": dtype}


def state_dict_order(bin_path):
    with zipfile.ZipFile(bin_path) as archive:
        pkl = next(n for n in archive.namelist() if n.endswith("/data.pkl"))
        with archive.open(pkl) as f:
            state = StateDictUnpickler(f).load()
    return [{"key": k, "storage": t.storage["key"], "storage_offset": t.offset,
             "dtype": t.storage["dtype"], "shape": t.shape} for k, t in state.items()]


def copy_files(src, dst, names):
    dst.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(src / name, dst / name)


def main():
    for family, folder in MODELS.items():
        formats = FIXTURES / folder / "formats"
        out = OUT / family
        expected = json.loads((formats / "expected.json").read_text())
        record = {
            "source": f"fixtures/{folder}/formats/bin/pytorch_model.bin (pickle order = state_dict order)",
            "max_shard_size": expected["max_shard_size"],
            "state_dict": state_dict_order(formats / "bin" / "pytorch_model.bin"),
            "shard_files": {name: {file: sorted(keys) for file, keys in expected["folders"][name]["tensors"].items()}
                            for name in ("sharded_safetensors", "sharded_bin")},
        }
        if family == "bert":
            record["max_shard_size_parsing"] = expected["max_shard_size_parsing"]
        out.mkdir(parents=True, exist_ok=True)
        (out / "expected.json").write_text(json.dumps(record, indent=1) + "\n")
        copy_files(formats / "sharded_safetensors", out, ["model.safetensors.index.json"])
        copy_files(formats / "sharded_bin", out, ["pytorch_model.bin.index.json"])
        copy_files(formats / "safetensors", out / "safetensors",
                   ["model.safetensors", "config.json", "generation_config.json"])
    # Llama also as Python sharded it (load tests, CLI index input) and as its bf16 / fp16 saves
    # (the CLI's conversions must reproduce them byte for byte).
    llama = FIXTURES / MODELS["llama"] / "formats"
    sharded = llama / "sharded_safetensors"
    copy_files(sharded, OUT / "llama" / "sharded_safetensors", sorted(p.name for p in sharded.iterdir()))
    copy_files(llama / "bf16", OUT / "llama" / "bf16", ["model.safetensors", "config.json"])
    copy_files(llama / "variant_fp16", OUT / "llama" / "variant_fp16", ["model.fp16.safetensors", "config.json"])
    # GPT-2 as a .bin, whose lm_head.weight is tied to transformer.wte.weight (one storage).
    gpt2 = FIXTURES / MODELS["gpt2"] / "formats" / "bin"
    copy_files(gpt2, OUT / "gpt2" / "bin", ["pytorch_model.bin", "config.json", "generation_config.json"])


if __name__ == "__main__":
    main()
