#!/usr/bin/env bash
# Installs what is needed, builds the hfcpp command-line tool and runs `hfcpp demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)" --target hfcpp_cli
exec build/tools/hfcpp demo "$@"
