#!/usr/bin/perl
# Listing pages at high traffic: req/s, p50 and p99 of a listing page,
# uncached and from the micro-cache, with 1,000 and 100,000 resources of a
# type, side by side with nginx's own "return 200" in the same run.
#
#   perl tests/bench/listing.pl [seconds per run, default 10] [sizes...]
#
# Starts its own redis-server and nginx (2 workers) through t/lib, seeds the
# resources with PUTs pipelined over HTTP, and runs wrk
# (2 threads, 64 connections) from this machine.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../t/lib";
use BookingTest;
use BookingKeys qw(set_units);
use IO::Socket::INET;
use POSIX qw(strftime);

my $secs = shift // 10;
my @sizes = @ARGV ? @ARGV : (1000, 100000);

my $t = BookingTest->new(
    workers => 2,
    http => q{
        booking_type room slot=1d hold=15m min=1d max=30d horizon=365d;
        booking_user $http_x_user_id;
        booking_cache zone=bench:64m valid=1s;
        access_log off;
    },
    server => q{
        location /api/ { booking_api; }
        location /admin/ { booking_api admin; }
        location = /plain { default_type application/json;
                            return 200 '{"items":[]}'; }
    },
);

my $from = strftime('%Y-%m-%d', gmtime(time + 10 * 86400));
my $to = strftime('%Y-%m-%d', gmtime(time + 13 * 86400));

sub seed {
    my ($have, $want) = @_;
    # requests pipelined by 100 on a connection each (nginx closes a
    # keep-alive connection after keepalive_requests, 1000)
    my $i = $have;
    while ($i < $want) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port)
            or die "connect: $!";
        my $n = 0;
        my $batch = '';
        while ($i < $want && $n < 100) {
            my $body = sprintf('{"type":"room","capacity":%d,"title":"Room %d",'
                             . '"location":{"lat":%.5f,"lon":%.5f}}',
                               1 + $i % 3, $i, 48 + ($i % 1000) / 1000,
                               -4.5 + int($i / 1000) / 1000);
            $batch .= "PUT /admin/resources/room-$i HTTP/1.1\r\nHost: b\r\n"
                    . "Content-Type: application/json\r\n"
                    . "Content-Length: " . length($body) . "\r\n\r\n$body";
            $i++;
            $n++;
        }
        print $s $batch;
        my $got = 0;
        my $buf = '';
        while ($got < $n) {
            sysread($s, $buf, 65536, length $buf) or die "read: $!";
            $got = () = $buf =~ m{HTTP/1\.1 20[01] }g;
            die "seeding failed: $buf" if $buf =~ m{HTTP/1\.1 [45]\d\d};
        }
    }
    # a third of the calendar taken, on every third room
    for (my $k = $have; $k < $want; $k += 3) {
        my $day = int(time / 86400 + 10);
        set_units($t, "room-$k", $_, 3) for $day .. $day + 2;
    }
}

sub wrk {
    my ($path, $header) = @_;
    my $h = $header ? "-H '$header'" : '';
    my $out = `wrk -t2 -c64 -d${secs}s --latency $h 'http://127.0.0.1:@{[$t->port]}$path' 2>&1`;
    my ($rps) = $out =~ /Requests\/sec:\s+([\d.]+)/;
    my ($p50) = $out =~ /^\s+50%\s+(\S+)/m;
    my ($p99) = $out =~ /^\s+99%\s+(\S+)/m;
    my ($non2xx) = $out =~ /Non-2xx or 3xx responses: (\d+)/;
    return sprintf('%10.0f %9s %9s %7s', $rps // 0, $p50 // '-', $p99 // '-',
                   $non2xx // 0);
}

printf "%-44s %10s %9s %9s %7s\n", 'what (wrk -t2 -c64, ' . $secs . 's)',
       'req/s', 'p50', 'p99', 'errors';
printf "%-44s %s\n", 'nginx return 200 (the limit)', wrk('/plain');

my $have = 0;
for my $n (@sizes) {
    seed($have, $n);
    $have = $n;
    my $page = "/api/resources?type=room&from=$from&to=$to&limit=20";
    my $near = "/api/resources?type=room&near=48.5,-4.45&radius=20000&limit=20";
    printf "%-44s %s\n", "$n rooms: listing, uncached",
           wrk($page, 'X-User-Id: bench');
    printf "%-44s %s\n", "$n rooms: listing, cached",
           wrk($page);
    printf "%-44s %s\n", "$n rooms: near + radius, uncached",
           wrk($near, 'X-User-Id: bench');
    printf "%-44s %s\n", "$n rooms: near + radius, cached",
           wrk($near);
}

my @bad = $t->check_error_log;
print "error log: ", (@bad ? join('', @bad) : "clean\n");
$t->stop;
