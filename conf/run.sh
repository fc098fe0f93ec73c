#!/bin/sh
# make run / make stop: Redis and nginx with the module, on loopback, in a
# private directory (nothing is written to /etc or /var).
#
#   conf/run.sh start DIR MODULE     conf/run.sh stop DIR

set -eu

cmd=$1
dir=$2
conf=$(cd "$(dirname "$0")" && pwd)

free_port() {
    perl -MIO::Socket::INET -e '
        for my $p ($ARGV[0] .. $ARGV[0] + 100) {
            my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1",
                                          LocalPort => $p, Listen => 1,
                                          ReuseAddr => 1) or next;
            print $p; exit 0;
        }
        exit 1' "$1"
}

stop() {
    if [ -f "$dir/nginx.pid" ]; then
        /usr/sbin/nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" \
            -s quit 2>/dev/null || true
        rm -f "$dir/nginx.pid"
    fi

    if [ -f "$dir/redis.pid" ]; then
        kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
        rm -f "$dir/redis.pid"
    fi
}

api() {
    # method path [json [user]]: the demo's calls, answered or not; a
    # user's are made as a member of the fablab's laser-trained
    set -- "$1" "$2" "${3:-}" "${4:-}"
    if [ -n "$4" ]; then
        curl -s -o /dev/null -w '%{http_code}' -X "$1" \
             -H 'Content-Type: application/json' --data "$3" \
             -H "X-User-Id: $4" -H 'X-User-Groups: laser-trained' \
             "http://127.0.0.1:$port$2"
        return
    fi
    curl -s -o /dev/null -w '%{http_code}' -X "$1" \
         -H 'Content-Type: application/json' ${3:+--data "$3"} \
         "http://127.0.0.1:$port$2"
}

if [ "$cmd" = stop ]; then
    stop
    echo "stopped"
    exit 0
fi

module=$3
stop
mkdir -p "$dir"

port=$(free_port "${BOOKING_PORT:-8080}")
redis_port=$(free_port "${BOOKING_REDIS_PORT:-6390}")

[ -f "$dir/booking.secret" ] \
    || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/booking.secret"

sed -e "s#@DIR@#$dir#g" -e "s#@PORT@#$port#g" \
    -e "s#@REDIS_PORT@#$redis_port#g" -e "s#@MODULE@#$module#g" \
    -e "s#@HTML@#$conf/html#g" \
    "$conf/nginx.conf" > "$dir/nginx.conf"

{
    cat "$conf/redis.conf"
    echo "port $redis_port"
    echo "dir $dir"
    echo "pidfile $dir/redis.pid"
    echo "logfile $dir/redis.log"
    echo "daemonize yes"
} > "$dir/redis.conf"

redis-server "$dir/redis.conf"

i=0
until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -lt 50 ] || { echo "redis did not start: $dir/redis.log"; exit 1; }
    sleep 0.1
done

/usr/sbin/nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log"

i=0
until [ "$(api GET /api/resources/brest-loft)" != 000 ]; do
    i=$((i + 1))
    [ $i -lt 50 ] || { echo "nginx did not start: $dir/error.log"; exit 1; }
    sleep 0.1
done

for r in \
    'brest-loft {"type":"room","capacity":1,"title":"Loft by the harbour","owner":"host-ana","location":{"lat":48.3829,"lon":-4.4948},"attributes":{"beds":2}}' \
    'nantes-house {"type":"room","capacity":1,"title":"House with a garden, Nantes","owner":"host-dan","location":{"lat":47.2184,"lon":-1.5536},"attributes":{"beds":4}}' \
    'zoe-42 {"type":"car","capacity":1,"title":"Renault Zoe","owner":"host-bob","location":{"lat":48.3904,"lon":-4.4861}}' \
    'cowork-brest {"type":"desk","capacity":12,"title":"Coworking desks, Brest centre","location":{"lat":48.3897,"lon":-4.4862}}' \
    'ride-brest-rennes {"type":"ride","capacity":4,"title":"Brest to Rennes, Friday evening","owner":"driver-cy"}' \
    'tomato-seeds {"type":"gift","capacity":20,"title":"Tomato seed packets"}' \
    'fablab-laser {"type":"machine","capacity":1,"title":"Laser cutter, Brest fablab","owner":"fablab-brest","groups":["laser-trained"]}'
do
    id=${r%% *}
    code=$(api PUT "/admin/resources/$id" "${r#* }")
    case $code in
        200|201) ;;
        *) echo "seeding $id answered $code: see $dir/error.log"; exit 1 ;;
    esac
done

from=$(date -u -d tomorrow +%Y-%m-%d)
to=$(date -u -d '+8 days' +%Y-%m-%d)

# a waiting line: the laser cutter is booked tomorrow 10:00-11:00 (what
# the demo page asks for), and a member waits for it; on a second run,
# the booking and the entry are there already (409)
laser="{\"resource\":\"fablab-laser\",\"start\":\"${from}T10:00:00Z\",\"end\":\"${from}T11:00:00Z\"}"
api POST /api/bookings "$laser" member-ann > /dev/null
api POST /api/waitlist "$laser" member-bob > /dev/null

cat <<MSG

ngx_booking is running: nginx on 127.0.0.1:$port, Redis on 127.0.0.1:$redis_port
(files, logs and data in $dir; "make stop" stops both).

Open http://127.0.0.1:$port/ for the demo page, or try:
  curl -s 'http://127.0.0.1:$port/api/resources?type=room&from=$from&to=$to'
  curl -s http://127.0.0.1:$port/api/resources/brest-loft
  curl -s 'http://127.0.0.1:$port/api/resources/brest-loft/availability?from=$from&to=$to'
  curl -s 'http://127.0.0.1:$port/api/resources/cowork-brest/availability?from=${from}T08:00:00Z&to=${from}T18:00:00Z'
  curl -s http://127.0.0.1:$port/api/resources/tomato-seeds/availability
  curl -s -X POST -H 'X-User-Id: ann' -H 'Content-Type: application/json' \\
       -d '{"resource":"brest-loft","start":"$from","end":"$to","hold":true}' \\
       http://127.0.0.1:$port/api/bookings
  curl -s http://127.0.0.1:$port/api/resources/brest-loft/calendar.ics
  curl -s -X PUT -H 'Content-Type: application/json' \\
       -d '{"type":"ride","capacity":3,"title":"Quimper to Nantes"}' \\
       http://127.0.0.1:$port/admin/resources/ride-quimper-nantes
  curl -s http://127.0.0.1:$port/booking_status

Usage rights: the fablab's laser cutter is for its group laser-trained,
and each user has 4 hours of machines a week (booking_quota). Without the
group: 403; with it: 201; 4 more hours that week: 429 quota.
  curl -s -X POST -H 'X-User-Id: ann' -H 'X-User-Groups: laser-trained' \\
       -H 'Content-Type: application/json' \\
       -d '{"resource":"fablab-laser","start":"${from}T13:00:00Z","end":"${from}T17:00:00Z"}' \\
       http://127.0.0.1:$port/api/bookings

A waiting line (waitlist=on): the laser is taken tomorrow 10:00-11:00 and
member-bob waits for it. Wait too, see the line as the fablab, and watch
member-ann's cancel offer it to member-bob at once (a hold of his own):
  curl -s -X POST -H 'X-User-Id: carl' -H 'X-User-Groups: laser-trained' \\
       -H 'Content-Type: application/json' -d '$laser' \\
       http://127.0.0.1:$port/api/waitlist
  curl -s -H 'X-User-Id: fablab-brest' \\
       'http://127.0.0.1:$port/api/waitlist?resource=fablab-laser'
  curl -s -H 'X-User-Id: member-ann' http://127.0.0.1:$port/api/bookings

Bookings that belong together: a home swap (both homes or neither), and a
desk every Thursday 09:00 Paris for four weeks (one group each):
  curl -s -X POST -H 'X-User-Id: ann' -H 'Content-Type: application/json' \\
       -d '{"items":[{"resource":"brest-loft","start":"$from","end":"$to"},{"resource":"nantes-house","start":"$from","end":"$to"}]}' \\
       http://127.0.0.1:$port/api/bookings
  curl -s -X POST -H 'X-User-Id: ann' -H 'Content-Type: application/json' \\
       -d '{"resource":"cowork-brest","start":"2027-01-07T08:00:00Z","end":"2027-01-07T09:00:00Z","repeat":{"freq":"weekly","count":4}}' \\
       http://127.0.0.1:$port/api/bookings

Every change is an event on one of 64 Redis Streams (README, "Events"):
  for s in \$(redis-cli -p $redis_port --scan --pattern 'bk:*:events'); do
      redis-cli -p $redis_port XRANGE "\$s" - + COUNT 3; done
MSG
