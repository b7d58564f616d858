#!/usr/bin/env bash
# Packs, on this Debian machine, what a GPU machine lent by the `device` tool needs to build and run
# ddbench against its own CUDA LibTorch (the PyTorch wheel's): the Debian libraries ddbench links
# (headers + shared libraries + CMake configs, unpacked with `dpkg -x`, no static archives but GoogleTest's,
# as DEST/root.tar.xz) and Fashion-MNIST (DEST/data), into DEST (default .deps/gpu, ignored by git). Carry DEST with the run
# (`carry: [".deps/gpu"]`, under 64 MiB) and run ci/gpu-check.sh there. The GPU machine has no network.
set -euo pipefail
dest=${1:-.deps/gpu}
pkgs=(libyaml-cpp-dev libyaml-cpp0.7 nlohmann-json3-dev libcli11-dev libfmt-dev libfmt9 libsqlite3-dev libsqlite3-0
      libarchive-dev libarchive13 libacl1 libbz2-1.0 liblz4-1 liblzma5 libnettle8 libxml2 libzstd1 libicu72
      libssl-dev libssl3 libpng-dev libpng16-16 libjpeg-dev libjpeg62-turbo-dev libjpeg62-turbo zlib1g-dev zlib1g
      libgtest-dev libgmock-dev)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download "${pkgs[@]}" >/dev/null 2>&1) || {
  apt-get update -qq && (cd "$work" && apt-get download "${pkgs[@]}")
}
rm -rf "$dest"
mkdir -p "$dest/root"
for d in "$work"/*.deb; do dpkg -x "$d" "$dest/root"; done
root="$dest/root"
# One library folder, usr/lib/x86_64-linux-gnu (the CMake configs compute their prefix from where they lie,
# so they stay there; gpu-check.sh names them), with absolute links made relative, and usr/lib/NAME links
# for the find modules of a CMake that does not search the Debian multiarch folder.
lib=$root/usr/lib/x86_64-linux-gnu
if [ -d "$root/lib/x86_64-linux-gnu" ]; then cp -a "$root/lib/x86_64-linux-gnu"/. "$lib/" && rm -rf "$root/lib"; fi
find "$lib" -maxdepth 1 -type l -lname '/*' | while read -r l; do ln -sfn "$(basename "$(readlink "$l")")" "$l"; done
for f in "$lib"/*; do [ -d "$f" ] || ln -sfn "x86_64-linux-gnu/$(basename "$f")" "$root/usr/lib/$(basename "$f")"; done
find "$root/usr/lib" \( -name '*.a' ! -name 'libgtest*' ! -name 'libgmock*' \) -delete
find -L "$root/usr/lib" -maxdepth 1 -type l -delete 2>/dev/null || true  # links to the deleted archives
rm -rf "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/lintian" "$lib/engines-3"
rm -f "$lib"/libicu{io,test,tu}.* "$root"/usr/lib/libicu{io,test,tu}.*  # libxml2 (libarchive's) needs libicuuc and libicudata only
# xz: ICU's 30 MB data table and the libraries fit the carry limit (64 MiB) beside Fashion-MNIST (30 MB).
tar -cJf "$dest/root.tar.xz" -C "$dest" root
rm -rf "$root"
mkdir -p "$dest/data/fashion-mnist"
cp /usr/share/datasets/fashion-mnist/*.gz "$dest/data/fashion-mnist/"
du -sh "$dest" | sed 's/^/gpu-deps: /'
