#!/bin/sh
# The Debian package in a clean Debian bookworm root (README, "Debian
# package"): debootstrap makes the root, apt-get installs the built .deb
# there (and with it nginx, by the nginx ABI it depends on), nginx -t
# checks a booking configuration, then Redis and nginx run inside it and
# a resource and a booking are made through it from outside.
#
#     sh tests/deb/chroot-test.sh build/deb/libnginx-mod-http-booking_*.deb ROOT
#
# Root only (debootstrap, chroot, mount).  The root is made once and kept
# (ROOT/.made); the package is installed afresh each time.

set -eu

deb=$(readlink -f "$1")
root=$2
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

[ "$(id -u)" = 0 ] || { echo "chroot-test: root only"; exit 1; }
command -v debootstrap >/dev/null || { echo "chroot-test: no debootstrap"; exit 1; }

free_port() {
    perl -MIO::Socket::INET -e \
        'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1")->sockport'
}

in_root() { chroot "$root" "$@"; }

cleanup() {
    in_root sh -c 'nginx -s stop 2>/dev/null; redis-cli -p "$0" shutdown nosave 2>/dev/null' \
        "${rport:-0}" >/dev/null 2>&1 || true
    sleep 0.5
    umount "$root/proc" 2>/dev/null || true
}

if [ ! -e "$root/.made" ]; then
    rm -rf "$root"
    mkdir -p "$root"
    echo "debootstrap bookworm into $root (minbase)"
    debootstrap --variant=minbase bookworm "$root" "$mirror" > "$root.debootstrap.log" 2>&1 \
        || { tail -20 "$root.debootstrap.log"; exit 1; }
    touch "$root/.made"
fi

trap cleanup EXIT
mount -t proc proc "$root/proc"

# no service starts by itself inside the root: this script starts them
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$root/etc/resolv.conf"

cp "$deb" "$root/tmp/"
name=$(basename "$deb")
echo "apt-get install ./$name redis-server curl (in the root)"
in_root sh -c "apt-get update -q >/dev/null \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
       /tmp/$name redis-server curl >/tmp/apt.log 2>&1" \
    || { tail -30 "$root/tmp/apt.log"; exit 1; }

# installed like every libnginx-mod-*
test -f "$root/usr/lib/nginx/modules/ngx_http_booking_module.so"
test -L "$root/etc/nginx/modules-enabled/50-mod-http-booking.conf"
grep -q 'load_module modules/ngx_http_booking_module.so;' \
    "$root/usr/share/nginx/modules-available/mod-http-booking.conf"
test -f "$root/usr/share/doc/libnginx-mod-http-booking/openapi.yaml"
echo "ok: the module, its enabled snippet, the OpenAPI document"

nport=$(free_port)
rport=$(free_port)
rm -f "$root/etc/nginx/sites-enabled/default"
cat > "$root/etc/nginx/conf.d/booking.conf" <<CONF
booking_redis 127.0.0.1:$rport;
booking_type room slot=1d hold=15m;
booking_user \$http_x_user_id;
booking_events on;

server {
    listen 127.0.0.1:$nport;
    location /api/   { booking_api; }
    location /admin/ { booking_api admin; }
}
CONF

in_root nginx -t
echo "ok: nginx -t with a booking configuration"

in_root redis-server --port "$rport" --bind 127.0.0.1 --daemonize yes \
    --save '' --appendonly no --logfile /tmp/redis.log
in_root nginx

base=http://127.0.0.1:$nport
day=$(date -u -d '+3 days' +%Y-%m-%d)
end=$(date -u -d '+5 days' +%Y-%m-%d)

for i in 1 2 3 4 5 6 7 8 9 10; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$base/admin/resources/loft" \
           -H 'Content-Type: application/json' -d '{"type":"room","capacity":1}') || code=000
    [ "$code" = 201 ] && break
    sleep 0.3
done
[ "$code" = 201 ] || { echo "PUT /admin/resources/loft: $code"; cat "$root/var/log/nginx/error.log"; exit 1; }

out=$(curl -s -w ' %{http_code}' -X POST "$base/api/bookings" -H 'X-User-Id: ann' \
      -H 'Content-Type: application/json' \
      -d "{\"resource\":\"loft\",\"start\":\"$day\",\"end\":\"$end\"}")
case "$out" in
    *'"status":"confirmed"'*' 201') echo "ok: a booking through the packaged module: $out" ;;
    *) echo "POST /api/bookings: $out"; cat "$root/var/log/nginx/error.log"; exit 1 ;;
esac

again=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/api/bookings" -H 'X-User-Id: bob' \
        -H 'Content-Type: application/json' \
        -d "{\"resource\":\"loft\",\"start\":\"$day\",\"end\":\"$end\"}")
[ "$again" = 409 ] || { echo "the same nights again: $again, not 409"; exit 1; }
echo "ok: the same nights again: 409"

events=$(in_root redis-cli -p "$rport" --scan --pattern 'bk:*:events' | head -1)
in_root redis-cli -p "$rport" XRANGE "$events" - + | grep -q booking.confirmed
echo "ok: its event in $events"
