#!/bin/sh
# Installs the Debian packages named on the command line that are missing,
# when root; otherwise prints the one line to run.

missing=""
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' \
        || missing="$missing $p"
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages; run:"
    echo "    sudo apt-get update && sudo apt-get install -y$missing"
    exit 1
fi

echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null && apt-get install -y -q $missing >/dev/null \
    || { echo "apt-get install$missing failed"; exit 1; }

exit 0
