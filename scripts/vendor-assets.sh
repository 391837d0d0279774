#!/bin/sh
# Refresh the front-end libraries vendored into static/vendor/ from the npm registry.
# They are committed: the app never loads anything from a CDN (workshops run on closed
# networks), and `make run` needs no npm. Run this only to change a version.
set -eu
cd "$(dirname "$0")/.."
SOCKETIO=4.8.1 XTERM=6.0.0 XTERM_FIT=0.11.0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent socket.io-client@$SOCKETIO @xterm/xterm@$XTERM @xterm/addon-fit@$XTERM_FIT >/dev/null)
for tgz in "$work"/*.tgz; do mkdir -p "${tgz%.tgz}" && tar xzf "$tgz" -C "${tgz%.tgz}"; done
dest=static/vendor
mkdir -p "$dest/xterm"
cp "$work"/socket.io-client-$SOCKETIO/package/dist/socket.io.min.js "$dest/"
cp "$work"/socket.io-client-$SOCKETIO/package/LICENSE "$dest/socket.io-client.LICENSE"
cp "$work"/xterm-xterm-$XTERM/package/lib/xterm.js "$work"/xterm-xterm-$XTERM/package/css/xterm.css "$dest/xterm/"
cp "$work"/xterm-xterm-$XTERM/package/LICENSE "$dest/xterm/xterm.LICENSE"
cp "$work"/xterm-addon-fit-$XTERM_FIT/package/lib/addon-fit.js "$dest/xterm/"
cp "$work"/xterm-addon-fit-$XTERM_FIT/package/LICENSE "$dest/xterm/addon-fit.LICENSE"
# Source-map comments point at files we do not ship; drop them so browsers do not ask.
sed -i '/^\/\/# sourceMappingURL=/d' "$dest"/socket.io.min.js "$dest"/xterm/*.js
echo "vendored: socket.io-client $SOCKETIO, @xterm/xterm $XTERM, @xterm/addon-fit $XTERM_FIT"
