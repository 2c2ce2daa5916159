#!/bin/sh
# The units as NixOS installs them, checked: the package's own units, and the module's
# settings as the drop-in NixOS writes for a unit a package provides
# (`<unit>.d/overrides.conf`); `systemd-analyze verify`, and `security` at most 1.1.
# Run by `checks.module-eval` (nix/tests/module-check.nix) in the build sandbox, and by
# tests/it/nix.rs here the way the sandbox runs it: as an unprivileged user, with
# read-only inputs, no /etc/systemd, and systemd's own units only where named.
# Usage: verify-units.sh PACKAGE_UNIT_DIR SYSTEMD_UNIT_DIR [SERVICE_DROPIN [SOCKET_DROPIN]]
set -eu
pkg=$1 systemd_units=$2 service_dropin=${3:-} socket_dropin=${4:-}
units=$(mktemp -d)/units
mkdir -p "$units/allure-mcp.service.d" "$units/allure-mcp.socket.d"
# Copies, writable whatever the originals' mode (the store's are read-only).
cp --no-preserve=mode "$pkg/allure-mcp.service" "$pkg/allure-mcp.socket" "$units/"
[ -z "$service_dropin" ] || cp --no-preserve=mode "$service_dropin" "$units/allure-mcp.service.d/overrides.conf"
[ -z "$socket_dropin" ] || cp --no-preserve=mode "$socket_dropin" "$units/allure-mcp.socket.d/overrides.conf"
# Our units first, then systemd's own (sysinit.target, sockets.target, …): nixpkgs'
# systemd keeps them in $out/example/systemd/system, outside any default search path.
export SYSTEMD_UNIT_PATH="$units:$systemd_units"
systemd-analyze verify --man=no "$units/allure-mcp.socket" "$units/allure-mcp.service"
systemd-analyze security --offline=yes --threshold=11 "$units/allure-mcp.service"
