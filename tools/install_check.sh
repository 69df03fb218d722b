#!/usr/bin/env bash
# Installs nabla into a temporary prefix, builds examples/mlp_grad/main.c
# against it with pkg-config only, runs it, and (when PyTorch is present)
# compares its gradients with PyTorch's to 1e-4 relative.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$(mktemp -d /tmp/nabla-prefix.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
make -s install PREFIX="$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cc -std=c11 -Wall -Wextra -Wpedantic examples/mlp_grad/main.c -o "$prefix/mlp_grad" $(pkg-config --cflags --libs nabla)
"$prefix/mlp_grad" "$prefix/mlp.safetensors"
if /usr/bin/python3 -c "import torch, numpy" 2>/dev/null; then
    /usr/bin/python3 tools/reference/mlp_grad_check.py "$prefix/mlp.safetensors"
else
    echo "SKIP: install check: PyTorch (python3-torch) not installed; gradients not compared"
fi
