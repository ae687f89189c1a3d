#!/usr/bin/env bash
# Builds what a server needs, into dist/: a self-contained release binary (the Swift runtime linked
# in; only Debian's C libraries outside), a versioned tarball, and a .deb with a systemd unit.
#   scripts/dist.sh        (make dist)
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(tr -d '[:space:]' < VERSION)
arch=$(dpkg --print-architecture)
scratch=.build-static
echo "building concord $version for $arch (static Swift runtime)"
swift build -c release --static-swift-stdlib --product concord --scratch-path "$scratch"
binary="$scratch/release/concord"
mkdir -p dist
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The binary, stripped of debug symbols (a third of its size); its own backtraces keep names.
cp "$binary" "$work/concord"
strip --strip-debug "$work/concord"

# Tarball: the binary, the README, the unit and its environment file, the sample configuration.
name="concord-$version-linux-$arch"
mkdir -p "$work/$name"
cp "$work/concord" README.md packaging/concord.service packaging/concord.env "$work/$name/"
[ -f packaging/concord.toml ] && cp packaging/concord.toml "$work/$name/"
tar -C "$work" -czf "dist/$name.tar.gz" "$name"
echo "wrote dist/$name.tar.gz"

# .deb, with Debian's own tools: dpkg-shlibdeps finds the packages of the libraries the binary
# links, dpkg-deb builds the archive.
root="$work/deb"
install -D -m 0755 "$work/concord" "$root/usr/bin/concord"
install -D -m 0644 packaging/concord.service "$root/lib/systemd/system/concord.service"
install -D -m 0640 packaging/concord.env "$root/etc/concord/concord.env"
conffiles="/etc/concord/concord.env"
if [ -f packaging/concord.toml ]; then
    install -D -m 0644 packaging/concord.toml "$root/etc/concord/concord.toml"
    conffiles="$conffiles
/etc/concord/concord.toml"
fi
install -D -m 0644 README.md "$root/usr/share/doc/concord/README.md"
mkdir -p "$root/DEBIAN"
printf '%s\n' "$conffiles" > "$root/DEBIAN/conffiles"
for script in postinst prerm postrm; do install -m 0755 "packaging/debian/$script" "$root/DEBIAN/$script"; done
shlibs=$(cd "$work" && mkdir -p debian && printf 'Source: concord\n\nPackage: concord\nArchitecture: any\n' > debian/control \
    && dpkg-shlibdeps -O "$root/usr/bin/concord" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@DEPENDS@/$shlibs/" packaging/debian/control.in > "$root/DEBIAN/control"
echo "Installed-Size: $(du -sk "$root" --exclude=DEBIAN | cut -f1)" >> "$root/DEBIAN/control"
dpkg-deb --root-owner-group -Zxz --build "$root" "dist/concord_${version}_${arch}.deb" >/dev/null
echo "wrote dist/concord_${version}_${arch}.deb (Depends: $shlibs)"

# The JavaScript client as an npm package, beside them.
if grep -q '^npm-pack:' Makefile; then make --no-print-directory npm-pack; fi
