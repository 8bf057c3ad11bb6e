#!/usr/bin/python3
"""Seeds fuzz/corpus/torch_pickle/ and fuzz/corpus/zip/ from real torch.save output (Debian's
python3-torch 1.13) and the checkpoints under tests/data/io/bin/. Small files only.

    /usr/bin/python3 scripts/make_torch_bin_fuzz_corpus.py
"""
import io
import zipfile
from collections import OrderedDict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests/data/io/bin"
PICKLES = ROOT / "fuzz/corpus/torch_pickle"
ZIPS = ROOT / "fuzz/corpus/zip"


def small_state_dict():
    sd = OrderedDict()
    w = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    sd["w"] = w
    sd["w_t"] = w.t()
    sd["b"] = torch.tensor([1, -1], dtype=torch.bfloat16)
    sd["ids"] = torch.arange(3)
    sd["mask"] = torch.tensor([True, False])
    sd["s"] = torch.tensor(2.0, dtype=torch.float64)
    return sd


def saved(obj, **kwargs):
    buffer = io.BytesIO()
    torch.save(obj, buffer, **kwargs)
    return buffer.getvalue()


def pickle_of(zip_bytes):
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as z:
        return z.read(next(n for n in z.namelist() if n.endswith("/data.pkl")))


def repacked(zip_bytes, prefix, force_zip64):
    """The same records under another folder, written by Python's zipfile (ZIP64 if asked)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for name in src.namelist():
            with dst.open(prefix + name[name.index("/"):], "w", force_zip64=force_zip64) as f:
                f.write(src.read(name))
        with dst.open(prefix + "/byteorder", "w") as f:
            f.write(b"little")
    return out.getvalue()


def main():
    PICKLES.mkdir(parents=True, exist_ok=True)
    ZIPS.mkdir(parents=True, exist_ok=True)
    small = saved(small_state_dict())
    (ZIPS / "small.bin").write_bytes(small)
    (ZIPS / "small_archive_zip64.bin").write_bytes(repacked(small, "archive", True))
    (ZIPS / "small_legacy.bin").write_bytes(saved(small_state_dict(), _use_new_zipfile_serialization=False))
    (ZIPS / "empty_state_dict.bin").write_bytes(saved(OrderedDict()))
    (ZIPS / "shard5.bin").write_bytes((DATA / "sharded_bin/pytorch_model-00005-of-00005.bin").read_bytes())

    (PICKLES / "small.pkl").write_bytes(pickle_of(small))
    (PICKLES / "bert_save_pretrained.pkl").write_bytes(pickle_of((DATA / "bin/pytorch_model.bin").read_bytes()))
    (PICKLES / "bert_caikit_random.pkl").write_bytes(
        pickle_of((DATA / "bert-caikit-random/pytorch_model.bin").read_bytes()))
    # The legacy stream's main pickle, with OrderedDict BUILD(_metadata) and 6-tuple storage ids.
    legacy = saved(small_state_dict(), _use_new_zipfile_serialization=False)
    import pickletools
    stream = io.BytesIO(legacy)
    for _ in range(3):
        pickletools.dis(stream, out=io.StringIO())
    start = stream.tell()
    pickletools.dis(stream, out=io.StringIO())
    (PICKLES / "legacy_main.pkl").write_bytes(legacy[start:stream.tell()])
    # A parameter (torch._utils._rebuild_parameter) and a plain dict.
    param = torch.nn.Parameter(torch.ones(2))
    (PICKLES / "parameter.pkl").write_bytes(pickle_of(saved({"p": param})))


if __name__ == "__main__":
    main()
