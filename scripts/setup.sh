#!/usr/bin/env bash
# Installs what incept-gpu needs on a fresh Debian machine, and does nothing where it is present.
#   --runtime  npm dependencies and, without a GPU, a software Vulkan driver (npm start)
#   --test     the above, plus both software drivers and Chromium for the browser tests, and
#              Debian's PyTorch + torchvision, the oracle of test/torchvision-roundtrip.test.ts
#              (npm test; about 150 MB to download, 650 MB installed, nearly all of it PyTorch)
# Software drivers (see ../shared/docs/webgpu-here.md): lavapipe from Mesa >= 24 (Debian 12 needs
# bookworm-backports; its own Mesa 22.3 is too old for Dawn) and SwiftShader, shipped with
# Debian's chromium package. Without root, it prints exactly what to install and exits 1.
set -euo pipefail
mode="${1:---runtime}"
case "$mode" in --runtime|--test) ;; *) echo "usage: scripts/setup.sh [--runtime|--test]" >&2; exit 2 ;; esac
cd "$(dirname "$0")/.."

say() { echo "setup: $*" >&2; }

# ---- npm dependencies (from the lock file); `prepare` builds dist/ as part of npm ci
if [ ! -f node_modules/webgpu/package.json ] || [ ! -f node_modules/esbuild/package.json ] || { [ "$mode" = --test ] && [ ! -f node_modules/vitest/package.json ]; }; then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi

[ "$(uname -s)" = Linux ] || exit 0 # Dawn uses Metal / D3D12 elsewhere: nothing to install

# ---- what is present
mesa_major() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | sed -E 's/^([0-9]+:)?([0-9]+).*/\2/'; }
have_loader() { ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; }
have_lavapipe() { ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 && [ "$(mesa_major || echo 0)" -ge 24 ] 2>/dev/null; }
have_swiftshader() { [ -f /usr/lib/chromium/vk_swiftshader_icd.json ]; }
have_chromium() { [ -x /usr/bin/chromium ]; }
have_gpu() { ls /dev/nvidia0 /dev/dri/renderD* >/dev/null 2>&1; }
# Debian's package, for Debian's /usr/bin/python3 (the interpreter the round-trip test runs).
have_torchvision() { dpkg-query -W -f='${Status}' python3-torchvision 2>/dev/null | grep -q 'install ok installed'; }

packages=()          # plain Debian packages to install
backports_mesa=false # mesa-vulkan-drivers from bookworm-backports
have_loader || packages+=(libvulkan1)
if [ "$mode" = --test ]; then
  have_lavapipe || backports_mesa=true
  { have_swiftshader && have_chromium; } || packages+=(chromium)
  have_torchvision || packages+=(python3-torchvision)
elif ! have_gpu && ! have_lavapipe && ! have_swiftshader; then
  backports_mesa=true
fi

if [ ${#packages[@]} -eq 0 ] && [ "$backports_mesa" = false ]; then
  exit 0
fi

# The backports line uses this machine's own Debian mirror (scripts/debian-mirror.sh reads it from
# apt's sources), so that it works behind a local mirror; apt's proxy settings apply to it as is.
codename="$(bash scripts/debian-mirror.sh --codename)"
mesa_cmd="apt-get install -y mesa-vulkan-drivers"
backports_line=""
if [ "$codename" = bookworm ]; then
  backports_line="echo '$(bash scripts/debian-mirror.sh --backports-line)' > /etc/apt/sources.list.d/backports.list"
  mesa_cmd="apt-get install -y -t $codename-backports mesa-vulkan-drivers"
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  say "missing system packages. As root on Debian, run:"
  [ -n "$backports_line" ] && [ "$backports_mesa" = true ] && echo "  $backports_line" >&2
  echo "  apt-get update" >&2
  [ ${#packages[@]} -gt 0 ] && echo "  apt-get install -y ${packages[*]}" >&2
  [ "$backports_mesa" = true ] && echo "  $mesa_cmd    # lavapipe, Mesa >= 24" >&2
  say "then run this command again."
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if [ "$backports_mesa" = true ] && [ -n "$backports_line" ] && [ ! -f /etc/apt/sources.list.d/backports.list ]; then
  eval "$backports_line"
fi
say "apt-get update"
apt-get update -qq
if [ ${#packages[@]} -gt 0 ]; then
  say "installing ${packages[*]}"
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
if [ "$backports_mesa" = true ]; then
  say "installing lavapipe (mesa-vulkan-drivers, Mesa >= 24)"
  $mesa_cmd -qq --no-install-recommends >/dev/null
fi
have_lavapipe || have_swiftshader || have_gpu || { say "no Vulkan driver after installing; see ../shared/docs/webgpu-here.md"; exit 1; }
