#!/bin/bash
# ctest plugin.install (label slow): install this build to a temporary prefix, build examples/plugin
# out of tree with find_package(ddbench), and load it with the installed command.
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log"
cmake -S "$src/examples/plugin" -B "$tmp/plugin" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$tmp/prefix" > "$tmp/configure.log"
cmake --build "$tmp/plugin" > "$tmp/build.log"
out=$("$tmp/prefix/bin/ddbench" --plugin "$tmp/plugin/libddbench_class_means.so" list methods)
grep -q "class_means" <<< "$out" || { echo "class_means not listed:"; echo "$out"; exit 1; }
echo "installed ddbench loaded the out-of-tree plugin: $(grep class_means <<< "$out" | head -1)"
