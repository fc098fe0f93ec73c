#!/usr/bin/perl
# make bench: ngx_booking side by side with what it competes with, in one
# run, at one concurrency, on one machine.
#
#   perl tests/bench/bench.pl            the table (part 1)
#   perl tests/bench/bench.pl --growth   memory and cost growth (part 2)
#   perl tests/bench/bench.pl --memory   worker memory over 1,000,000
#                                        requests (part 3)
#   perl tests/bench/bench.pl --all      all three (what "make bench" runs)
#   perl tests/bench/bench.pl --check    the servers' answers compared, no
#                                        measuring
#
#   BENCH_SECONDS=N (default 10): the length of each wrk run of part 1
#   (part 2 runs 5 s each, or less when N is smaller).
#   BENCH_ROUNDS=N (default 3): how many times each operation that has
#   peers runs on each server, the servers in another order each round;
#   the table shows each server's median run, the notes every round's
#   req/s and ratio (one run of this VM differs from the next by up to 20%,
#   the Node peer's the most).
#
# What runs, all on 127.0.0.1 (the machine's cores are shared by wrk, every
# nginx, node and redis-server; only the server under test is busy at a
# time):
#
# - one redis-server and the module's nginx (2 workers), started by
#   t/lib/BookingTest.pm, with the booking_type lines of conf/nginx.conf, a
#   micro-cache zone and a "location = /limit { return 200 ... }": the limit
#   of this machine and this wrk for any nginx answer;
# - the OpenResty peer (tests/bench/peers/openresty): Debian's
#   lua-nginx-module and lua-resty-redis, 2 workers, keepalive pool;
# - the Node peer (tests/bench/peers/node): one node process (node:http,
#   ioredis with auto-pipelining) behind an nginx (2 workers) proxy_pass with
#   upstream keepalive.
#
# Each peer runs twice.  "OpenResty" and "Node+nginx" call the SAME Redis
# scripts as the module, with the same KEYS and ARGV, so the Redis work per
# request is the same and the difference is the HTTP tier.  "OpenResty own"
# and "Node own" call their own scripts on their own key layout
# (tests/bench/peers/own: a hash field per slot, HINCRBY per slot, a hash
# per booking), so the difference is also what the scripts cost Redis.
# Before measuring, the same requests are sent to every server and their
# answers compared.
#
# Data, seeded once: 10,000 resources over the types of conf/nginx.conf,
# with a third of the calendar of the next 30 days taken (counters written
# in the module's key layout and in the own peers').  Each hold run writes
# into a calendar window of its own (4,096 hours, far in the future), so
# every server starts from the same state and few holds collide.
#
# For each run: req/s, p50, p99 (wrk), 409s and other errors (counted by
# tests/bench/wrk.lua); Redis us per request: the usec INFO commandstats
# gives every command the server sent itself (a script's holds what it ran;
# which calls a script made is learnt once per server and request under
# MONITOR), over the requests; Redis commands per request (the commands
# scripts run included); and CPU per request (utime + stime from /proc of
# the server's nginx workers, plus the node process for the Node peers;
# and of redis-server) in microseconds.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../t/lib";
use BookingKeys qw(rkey ukey CHUNK);
use BookingRace ();
use Cwd ();
use Digest::SHA qw(sha1_hex);
use File::Temp ();
use Getopt::Long;
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use JSON::PP ();
use List::Util qw(min max sum);
use POSIX qw(floor ceil);
use Time::HiRes qw(time sleep);

my $REPO = Cwd::abs_path("$FindBin::Bin/../..");
my $BENCH = "$REPO/tests/bench";
my $WRK_LUA = "$BENCH/wrk.lua";
my $SCRIPTS = "$REPO/ngx_module/scripts";

my ($GROWTH, $MEMORY, $ALL, $CHECK) = (0, 0, 0, 0);
GetOptions('growth' => \$GROWTH, 'memory' => \$MEMORY, 'all' => \$ALL,
           'check' => \$CHECK)
    or die "usage: $0 [--growth | --memory | --all | --check]\n";
my $SECS = $ENV{BENCH_SECONDS} // 10;
die "BENCH_SECONDS must be a whole number of seconds from 1 to 600\n"
    unless $SECS =~ /^\d+$/ && $SECS >= 1 && $SECS <= 600;
my $ROUNDS = $ENV{BENCH_ROUNDS} // 3;
die "BENCH_ROUNDS must be a whole number from 1 to 9\n"
    unless $ROUNDS =~ /^\d$/ && $ROUNDS >= 1;
my $GSECS = min(5, $SECS);
my $PART1 = (!$GROWTH && !$MEMORY) || $ALL;
my $PART2 = $GROWTH || $ALL;
my $PART3 = $MEMORY || $ALL;

$| = 1;
$SIG{PIPE} = 'IGNORE';
srand(42);    # the same data on every run (relative to today)

# ------------------------------------------------------------ what it needs

my @DEBIAN = qw(wrk redis-server redis-tools nginx libnginx-mod-http-lua
                libnginx-mod-http-ndk lua-nginx-redis lua-resty-core
                lua-resty-lrucache lua-cjson);

sub deps {
    # conf/deps.sh installs what is missing when root, else prints the line
    system('sh', "$REPO/conf/deps.sh", @DEBIAN) == 0 or exit 1;
    # node and npm: Debian's, or a nodejs package that carries npm
    for my $cmd (qw(node npm)) {
        next if system("command -v $cmd >/dev/null 2>&1") == 0;
        system('sh', "$REPO/conf/deps.sh", 'nodejs', 'npm') == 0 or exit 1;
        last;
    }
    my $node = "$BENCH/peers/node";
    unless (-f "$node/node_modules/ioredis/package.json") {
        print "installing the Node peer's ioredis (npm ci in $node)\n";
        system("cd '$node' && timeout 300 npm ci --no-audit --no-fund "
             . "--loglevel=error") == 0
            or die "npm ci failed in $node\n";
    }
    die "the module is not built: run make module (make bench does)\n"
        unless -f ($ENV{BOOKING_MODULE} || "$REPO/build/ngx_http_booking_module.so");
}

deps();

require BookingTest;

# ------------------------------------------------------------ the types

sub duration {
    my ($s) = @_;
    my %u = (y => 365 * 86400, M => 30 * 86400, w => 7 * 86400, d => 86400,
             h => 3600, m => 60, s => 1);
    my $t = 0;
    while ($s =~ /\G(\d+)([yMwdhms])/gc) { $t += $1 * $u{$2} }
    die "bad duration $s\n" unless (pos($s) // 0) == length $s;
    return $t;
}

# booking_type lines of conf/nginx.conf: the text for nginx, the values for
# the peers (which send the scripts the same rules lines as the module)
my (@TYPE_LINES, @TYPES, %TYPE);
{
    open my $fh, '<', "$REPO/conf/nginx.conf" or die "conf/nginx.conf: $!\n";
    while (<$fh>) {
        next unless /^\s*(booking_type\s+(\S+)\s+([^;]*));/;
        push @TYPE_LINES, "$1;";
        my %o = map { /^(\w+)=(\S+)$/ ? ($1 => $2) : () } split ' ', $3;
        my $t = { name => $2, slot_text => $o{slot} };
        $t->{slot} = $o{slot} eq 'none' ? 0 : duration($o{slot});
        $t->{hold} = defined $o{hold} ? duration($o{hold}) : 900;
        for my $k (qw(min max buffer lead horizon)) {
            $t->{$k} = defined $o{$k} ? duration($o{$k})
                     : ($k eq 'min' ? $t->{slot} : 0);
        }
        $t->{approval} = ($o{approval} // 'off') eq 'on' ? 1 : 0;
        $t->{max_active} = 0 + ($o{max_active} // 0);
        push @TYPES, $t;
        $TYPE{ $t->{name} } = $t;
    }
    die "no booking_type in conf/nginx.conf\n" unless @TYPES;
    for (qw(car desk ride room gift)) {
        die "conf/nginx.conf has no type $_, which the bench seeds\n"
            unless $TYPE{$_};
    }
}
# longest: what the module sends last (ngx_booking_longest): the most a
# booking may span, booking_max_range (366d here) and the slots one script
# may count bounding it
my $MAX_RANGE = 366 * 86400;
my $BOOK_SLOTS_MAX = 40000;    # NGX_BOOKING_BOOK_SLOTS_MAX
for my $t (@TYPES) {
    my $l = $t->{slot} ? min($MAX_RANGE, $BOOK_SLOTS_MAX * $t->{slot}) : 0;
    $l = min($l, $t->{max}) if $t->{slot} && $t->{max};
    $t->{longest} = $t->{slot} ? floor($l / $t->{slot}) * $t->{slot} : 0;
}
my @RULES = map {
    join ' ', @$_{qw(name slot hold min max buffer lead horizon approval
                     max_active longest)}
} @TYPES;

# ------------------------------------------------------------ servers

my $SECRET = join '', map { sprintf '%02x', int rand 256 } 1 .. 32;
my $DIR = File::Temp::tempdir('ngx-booking-bench-XXXXXX', TMPDIR => 1,
                              CLEANUP => !$ENV{BOOKING_KEEP});
my @OWN;    # [name, pid, signal] of what this script started itself

END {
    local $?;
    for my $p (reverse @OWN) {
        my ($name, $pid, $sig) = @$p;
        kill $sig, $pid;
        next if BookingTest::_wait_exit($pid, 10);
        kill 'KILL', $pid;
        BookingTest::_wait_exit($pid, 3);
    }
    @OWN = ();
}
$SIG{INT} = $SIG{TERM} = sub { die "interrupted\n" };

my $ngx = BookingTest->new(
    workers => 2,
    files => { 'booking.secret' => $SECRET },
    http => join("\n", @TYPE_LINES, split /\n/, <<'EOT'),
booking_user $http_x_user_id;
booking_secret_file %%DIR%%/booking.secret;
booking_max_range 366d;
booking_redis_connections 2;
booking_cache zone=bench:64m valid=1s;
access_log off;
error_log %%DIR%%/error.log warn;
EOT
    server => <<'EOT',
location /api/ { booking_api; }
location /admin/ { booking_api admin; }
location = /limit { default_type application/json; return 200 '{"ok":true}'; }
EOT
);
my $RPORT = $ngx->redis_port;

{
    open my $fh, '>', "$DIR/types.json" or die;
    print $fh JSON::PP->new->canonical->encode(\@TYPES);
    open $fh, '>', "$DIR/booking.secret" or die;
    print $fh $SECRET;
}

sub template {
    my ($file, %v) = @_;
    open my $fh, '<', $file or die "$file: $!\n";
    local $/;
    my $text = <$fh>;
    $v{USER} = $> == 0 ? 'user root;' : '';
    $text =~ s/\@(\w+)\@/exists $v{$1} ? $v{$1} : die "no value for \@$1\@ in $file\n"/ge;
    return $text;
}

sub write_file {
    my ($path, $text) = @_;
    open my $fh, '>', $path or die "$path: $!\n";
    print $fh $text;
    close $fh;
}

sub wait_port {
    my ($port, $what, $log) = @_;
    my $deadline = time + 15;
    while (time < $deadline) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                      Timeout => 1);
        return 1 if $s;
        sleep 0.05;
    }
    my $text = -f $log ? `tail -20 '$log'` : '';
    die "$what did not listen on $port within 15 s\n$text";
}

sub children {
    my ($ppid) = @_;
    return map { /(\d+)/ ? $1 : () } `ps -o pid= --ppid $ppid`;
}

# ------------------------------------------------------------ Redis

sub resp_enc {
    my $s = '*' . @_ . "\r\n";
    $s .= '$' . length($_) . "\r\n$_\r\n" for @_;
    return $s;
}

# one RESP reply from $$buf at $$pos; () when incomplete
sub resp_parse {
    my ($buf, $pos) = @_;
    my $i = index($$buf, "\r\n", $$pos);
    return if $i < 0;
    my $type = substr($$buf, $$pos, 1);
    my $line = substr($$buf, $$pos + 1, $i - $$pos - 1);
    my $p = $i + 2;
    if ($type eq '+' || $type eq ':') {
        $$pos = $p;
        return ($line);
    }
    if ($type eq '-') {
        $$pos = $p;
        return ({ error => $line });
    }
    if ($type eq '$') {
        if ($line < 0) { $$pos = $p; return (undef) }
        return if length($$buf) < $p + $line + 2;
        $$pos = $p + $line + 2;
        return (substr($$buf, $p, $line));
    }
    if ($type eq '*') {
        if ($line < 0) { $$pos = $p; return (undef) }
        my @a;
        my $q = $p;
        for (1 .. $line) {
            my @r = resp_parse($buf, \$q) or return;
            push @a, $r[0];
        }
        $$pos = $q;
        return (\@a);
    }
    die "bad RESP reply: $type$line\n";
}

# commands pipelined on one connection, by batches; the replies, in order
sub redis_pipe {
    my @cmds = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$RPORT", Timeout => 5)
        or die "redis: $!\n";
    binmode $s;
    my $sel = IO::Select->new($s);
    my @out;
    for (my $i = 0; $i < @cmds; $i += 1000) {
        my @batch = @cmds[$i .. min($i + 999, $#cmds)];
        my $req = join '', map { resp_enc(@$_) } @batch;
        my $deadline = time + 60;
        while (length $req) {
            die "redis: write timed out\n" if time > $deadline;
            my $n = syswrite($s, $req);
            die "redis: write: $!\n" unless defined $n;
            substr($req, 0, $n, '');
        }
        my ($buf, $pos, $got) = ('', 0, 0);
        while ($got < @batch) {
            my @r = resp_parse(\$buf, \$pos);
            if (@r) {
                push @out, $r[0];
                $got++;
                next;
            }
            die "redis: read timed out\n"
                unless time < $deadline && $sel->can_read($deadline - time);
            my $n = sysread($s, $buf, 1 << 20, length $buf);
            die "redis: connection closed\n" unless $n;
        }
    }
    close $s;
    return @out;
}

sub redis1 { return (redis_pipe([@_]))[0] }

sub info {
    my ($section) = @_;
    my %h;
    for (split /\r?\n/, redis1('INFO', $section)) {
        $h{$1} = $2 if /^(\w+):(.*)$/;
    }
    return \%h;
}

# every command Redis ran so far, those that scripts ran included: name ->
# [calls, usec]
sub redis_stats {
    my %s;
    for (split /\r?\n/, redis1('INFO', 'commandstats')) {
        $s{$1} = [ $2, $3 ] if /^cmdstat_(\S+):calls=(\d+),usec=(\d+)/;
    }
    return \%s;
}

# The scripts as the module sends them, put together as config does: the
# "#!lua" line, the contract's prelude for the script (contract.awk), the
# parts of common.lua it uses (shake.awk), its body.  The module runs each
# as the function of a library it loads on connect (bk_<script>_<hex>):
# the same-scripts peers call that very function (its name in
# <script>.fn), so that Redis does for them what it does for the module;
# the text is their fallback.
my $SHA = {};
my $FN = {};
{
    my $q = sub { my $s = shift; $s =~ s/'/'\\''/g; "'$s'" };
    mkdir "$DIR/scripts";
    my @ops = qw(availability booking_create booking_act);
    for my $op (@ops) {
        my ($lua, $awk, $contract, $shake, $common) = map { $q->("$SCRIPTS/$_") }
            "$op.lua", qw(contract.awk contract shake.awk common.lua);
        my $text = qx{head -n 1 $lua; awk -v mode=lua -v script=$op -f $awk $contract; awk -f $shake $common $lua; tail -n +2 $lua};
        die "putting $op.lua together failed\n" if $? || $text !~ /\A#!lua/;
        $SHA->{$op} = sha1_hex($text);
        write_file("$DIR/scripts/$op.lua", $text);
    }
    my $deadline = time + 10;
    while (time < $deadline) {
        my $libs = redis1('FUNCTION', 'LIST');
        for my $lib (ref $libs eq 'ARRAY' ? @$libs : ()) {
            $FN->{$1} = $lib->[1] if $lib->[1] =~ /^bk_(\w+)_[0-9a-f]{12}$/;
        }
        last unless grep { !$FN->{$_} } @ops;
        sleep 0.1;
    }
    for my $op (@ops) {
        die "the module's nginx did not load the library of $op\n" unless $FN->{$op};
        write_file("$DIR/scripts/$op.fn", $FN->{$op});
    }
}

# ------------------------------------------------------------ the peers

# an OpenResty peer: store "scripts" (the module's) or "own"
sub start_openresty {
    my ($name, $store) = @_;
    mkdir "$DIR/$name-$_" for qw(body proxy fastcgi uwsgi scgi);
    my $port = BookingTest::free_port();
    write_file("$DIR/$name.conf", template(
        "$BENCH/peers/openresty/nginx.conf", DIR => $DIR, PORT => $port,
        NAME => $name, REDIS_PORT => $RPORT, STORE => $store,
        LUA_DIR => "$BENCH/peers/openresty", SCRIPTS => "$DIR/scripts",
        OWN_DIR => "$BENCH/peers/own"));
    my $pid = BookingTest::_spawn(
        cmd => [ '/usr/sbin/nginx', '-p', "$DIR/", '-c', "$DIR/$name.conf",
                 '-e', "$DIR/$name-error.log" ],
        stderr => "$DIR/$name.stderr");
    push @OWN, [ $name, $pid, 'QUIT' ];
    wait_port($port, "the $name peer", "$DIR/$name-error.log");
    return { port => $port, pids => sub { children($pid) } };
}

# a Node peer and the nginx in front of it
sub start_node {
    my ($name, $store) = @_;
    mkdir "$DIR/$name-$_" for qw(body proxy fastcgi uwsgi scgi);
    my $app = BookingTest::free_port();
    my $port = BookingTest::free_port();
    write_file("$DIR/$name.json", JSON::PP->new->encode({
        port => $app, redis_port => $RPORT, store => $store,
        scripts => "$DIR/scripts", own_dir => "$BENCH/peers/own",
        types => "$DIR/types.json", secret_file => "$DIR/booking.secret" }));
    my $node = BookingTest::_spawn(
        cmd => [ 'node', "$BENCH/peers/node/server.js", "$DIR/$name.json" ],
        stderr => "$DIR/$name.stderr");
    push @OWN, [ $name, $node, 'TERM' ];
    wait_port($app, "the $name peer", "$DIR/$name.stderr");
    write_file("$DIR/$name-nginx.conf", template(
        "$BENCH/peers/node/nginx.conf", DIR => $DIR, PORT => $port,
        NAME => $name, NODE_PORT => $app));
    my $nginx = BookingTest::_spawn(
        cmd => [ '/usr/sbin/nginx', '-p', "$DIR/", '-c',
                 "$DIR/$name-nginx.conf", '-e', "$DIR/$name-nginx-error.log" ],
        stderr => "$DIR/$name-nginx.stderr");
    push @OWN, [ "$name-nginx", $nginx, 'QUIT' ];
    wait_port($port, "the $name peer's nginx", "$DIR/$name-nginx-error.log");
    return { port => $port, pids => sub { (children($nginx), $node) },
             parts => sub { ([ 'nginx', [ children($nginx) ] ],
                             [ 'node', [ $node ] ]) } };
}

# The servers: the module, then the peers on its scripts (what the HTTP
# tier costs), then the peers on their own scripts and keys (what the
# scripts cost Redis); listing: it serves listing pages (the peers on the
# module's scripts do not).
my @SERVERS = (
    { name => 'ngx_booking', port => $ngx->port, listing => 1,
      pids => sub { $ngx->worker_pids } },
    { name => 'OpenResty', %{ start_openresty('openresty', 'scripts') } },
    { name => 'Node+nginx', %{ start_node('node', 'scripts') } },
    { name => 'OpenResty own', own => 1, listing => 1,
      %{ start_openresty('openresty-own', 'own') } },
    { name => 'Node own', own => 1, listing => 1,
      %{ start_node('node-own', 'own') } },
);

# ------------------------------------------------------------ HTTP seeding

# requests pipelined by 100 on a connection each (nginx closes a
# keep-alive connection after keepalive_requests, 1000); dies unless each
# answers one of the statuses in $ok
sub http_pipe {
    my ($port, $ok, @reqs) = @_;
    my @status;
    while (@reqs) {
        my @batch = splice @reqs, 0, 100;
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                      Timeout => 5) or die "connect: $!\n";
        binmode $s;
        print $s join '', @batch;
        my ($buf, $got) = ('', 0);
        my $sel = IO::Select->new($s);
        my $deadline = time + 60;
        while (1) {
            $got = () = $buf =~ m{HTTP/1\.1 \d\d\d }g;
            last if $got >= @batch;
            die "seeding: no answer within 60 s\n"
                unless $sel->can_read(max(0.01, $deadline - time))
                       && time < $deadline;
            sysread($s, $buf, 65536, length $buf) or die "seeding: closed\n";
        }
        my @st = $buf =~ m{HTTP/1\.1 (\d\d\d) }g;
        for (@st) {
            next if $ok->{$_};
            my ($body) = $buf =~ m{(HTTP/1\.1 $_ .*?\r\n\r\n.{0,300})}s;
            die "seeding: unexpected $_: $body\n";
        }
        push @status, @st;
    }
    return @status;
}

my $JSON = JSON::PP->new->canonical;

sub put_req {
    my ($id, $doc) = @_;
    my $body = $JSON->encode($doc);
    return "PUT /admin/resources/$id HTTP/1.1\r\nHost: b\r\n"
         . "Content-Type: application/json\r\n"
         . "Content-Length: " . length($body) . "\r\n\r\n$body";
}

sub post_req {
    my ($user, $doc) = @_;
    my $body = $JSON->encode($doc);
    return "POST /api/bookings HTTP/1.1\r\nHost: b\r\nX-User-Id: $user\r\n"
         . "Content-Type: application/json\r\n"
         . "Content-Length: " . length($body) . "\r\n\r\n$body";
}

sub rid { return sprintf '%s-%012d', @_ }

sub iso {
    my @t = gmtime $_[0];
    return sprintf '%04d-%02d-%02dT%02d:%02d:%02dZ', $t[5] + 1900, $t[4] + 1,
        @t[3, 2, 1, 0];
}

sub date {
    my @t = gmtime $_[0];
    return sprintf '%04d-%02d-%02d', $t[5] + 1900, $t[4] + 1, $t[3];
}

my $DAY = 86400;
my $NOW = time;
my $TODAY = floor($NOW / $DAY) * $DAY;

sub doc {
    my ($type, $i, $cap) = @_;
    return { type => $type, capacity => $cap, title => "\u$type $i",
             owner => 'host-' . ($i % 997),
             location => { lat => 0 + sprintf('%.5f', 48.30 + ($i % 100) / 500),
                           lon => 0 + sprintf('%.5f', -4.60 + int($i / 100) % 100 / 500) },
             attributes => { rating => 3 + $i % 3, pets => ($i % 2 ? JSON::PP::true
                                                                   : JSON::PP::false) } };
}

# a third of [from, from + n slots) taken, as runs of about $mean slots
# separated by gaps of twice that; the units of each run are 1..capacity
sub taken_slots {
    my ($n, $cap, $mean) = @_;
    my @u = (0) x $n;
    my $i = int rand(2 * $mean);
    while ($i < $n) {
        my $len = 1 + int rand(2 * $mean - 1);
        my $v = $cap == 1 ? 1 : 1 + int rand $cap;
        $u[$_] = $v for $i .. min($i + $len, $n) - 1;
        $i += $len + 1 + int rand(4 * $mean - 1);
    }
    return \@u;
}

# the Redis commands that write those counters, as the scripts lay them out
# (the hash C, a field of 4 bytes a slot per chunk; K, the chunks by number)
sub counter_cmds {
    my ($id, $slot, $s0, $u) = @_;
    my (@set, @nums);
    my $s = $s0;
    my $end = $s0 + @$u;
    while ($s < $end) {
        my $c = floor($s / CHUNK);
        my $last = min($end, ($c + 1) * CHUNK);
        my $bytes = pack('N*', @$u[$s - $s0 .. $last - $s0 - 1]);
        $bytes = "\0" x (($s - $c * CHUNK) * 4) . $bytes
               . "\0" x ((($c + 1) * CHUNK - $last) * 4);
        push @set, $c, $bytes;
        push @nums, $c, $c;
        $s = $last;
    }
    return @set ? ([ 'HSET', rkey($id, ':c'), @set ],
                   [ 'ZADD', rkey($id, ':k'), @nums ]) : ();
}

# the resources of one type, PUT through the module, with a third of
# $days days taken from today
sub seed {
    my (%a) = @_;
    my ($type, $prefix, $n, $days, $cap) = @a{qw(type prefix n days cap)};
    my $t = $TYPE{$type};
    my @reqs = map { put_req(rid($prefix, $_), doc($type, $_, $cap->($_))) }
        0 .. $n - 1;
    http_pipe($ngx->port, { 200 => 1, 201 => 1 }, @reqs);
    # the own peers' layout (tests/bench/peers/own/lib.lua): the resource
    # with the module's document of it, the type's index, and a string of
    # counters a day
    my @docs = redis_pipe(map { [ 'HGET', rkey(rid($prefix, $_)), 'doc' ] }
                          0 .. $n - 1);
    my @cmds = map {
        [ 'HSET', "res:{" . rid($prefix, $_) . "}", type => $type,
          slot => $t->{slot}, capacity => $cap->($_), doc => $docs[$_],
          used => $days ? int($cap->($_) / 3) * ($t->{slot} == 0) : 0 ],
        [ 'ZADD', "type:$type", 0, rid($prefix, $_) ]
    } 0 .. $n - 1;
    for my $i ($days ? 0 .. $n - 1 : ()) {
        my $id = rid($prefix, $i);
        if ($t->{slot} == 0) {
            push @cmds, [ 'HSET', rkey($id), 'used', int($cap->($i) / 3) ];
            next;
        }
        my $slots = $days * $DAY / $t->{slot};
        my $mean = { car => 5, desk => 8, ride => 4, room => 3 }->{$type} // 3;
        my $s0 = $TODAY / $t->{slot};
        my $u = taken_slots($slots, $cap->($i), $mean);
        push @cmds, counter_cmds($id, $t->{slot}, $s0, $u);
        my $per = $DAY / $t->{slot};
        die "the own peers need slots that divide a day ($type)\n"
            if $per != int $per;
        for (my $k = 0; $k < @$u; $k += $per) {
            my $d = floor(($s0 + $k) / $per);
            push @cmds, [ 'SET', "res:{$id}:used:$d",
                          pack('N*', @$u[$k .. min($k + $per, scalar @$u) - 1]) ];
        }
    }
    for (redis_pipe(@cmds)) {
        die "seeding counters: $_->{error}\n" if ref $_ eq 'HASH';
    }
}

# ------------------------------------------------------------ measuring

my $CLK = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;

sub cpu_ticks {
    my $n = 0;
    for my $pid (@_) {
        open my $fh, '<', "/proc/$pid/stat" or next;
        my $st = <$fh>;
        $st =~ s/^.*\)\s+//s;
        my @f = split ' ', $st;
        $n += $f[11] + $f[12];
    }
    return $n;
}

sub ms {
    my ($s) = @_;
    return undef unless defined $s && $s =~ /^([\d.]+)(us|ms|s|m)$/;
    return $1 / 1000 if $2 eq 'us';
    return $1 if $2 eq 'ms';
    return $1 * 1000 if $2 eq 's';
    return $1 * 60000;
}

# CPU ticks of the whole machine: those of processes (user, nice, system;
# not the interrupts, where the kernel does loopback TCP for everyone), all
# of them, and the part of the processes' that this run accounts for: the
# pids given, this script and what it waited for (wrk, redis-benchmark)
sub machine {
    my @pids = @_;
    open my $fh, '<', '/proc/stat' or return { busy => 0, total => 0, ours => 0 };
    my @f = split ' ', scalar <$fh>;
    shift @f;
    my ($u, $s, $cu, $cs) = times;
    return { busy => $f[0] + $f[1] + $f[2], total => sum(@f[0 .. 7]),
             ours => cpu_ticks(@pids) + ($u + $s + $cu + $cs) * $CLK };
}

# runs $code (which returns wrk's or redis-benchmark's output) and measures
# what it cost: Redis commands, CPU of the server's processes (and of each
# part of it), of redis-server, and the share of the machine that other
# processes took meanwhile
sub measure {
    my ($pids, $parts, $code) = @_;
    my $redis = $ngx->redis_pid;
    my %p0 = map { $_->[0] => cpu_ticks(@{ $_->[1] }) } @$parts;
    my $c0 = cpu_ticks(@$pids);
    my $r0 = cpu_ticks($redis);
    my $m0 = machine(@$pids, $redis);
    my $k0 = redis_stats();
    my $out = $code->();
    my $k1 = redis_stats();
    $k1->{info}[0]--;    # the first INFO
    my %delta = map { $_ => [ $k1->{$_}[0] - ($k0->{$_} // [0])->[0],
                              $k1->{$_}[1] - ($k0->{$_} // [0, 0])->[1] ] }
                keys %$k1;
    my $m1 = machine(@$pids, $redis);
    my $c1 = cpu_ticks(@$pids);
    my $r1 = cpu_ticks($redis);
    my %p1 = map { $_->[0] => cpu_ticks(@{ $_->[1] }) } @$parts;
    my $other = $m1->{total} > $m0->{total}
        ? (($m1->{busy} - $m0->{busy}) - ($m1->{ours} - $m0->{ours}))
          / ($m1->{total} - $m0->{total})
        : 0;
    return { out => $out, stats => \%delta,
             calls => sum(0, map { $_->[0] } values %delta), ticks => $c1 - $c0,
             rticks => $r1 - $r0, other => max(0, $other),
             parts => [ map { [ $_->[0], $p1{ $_->[0] } - $p0{ $_->[0] } ] }
                        @$parts ] };
}

sub per_req { return $_[0] * 1e6 / $CLK / $_[1] }

sub wrk_cmd {
    my ($srv, %a) = @_;
    return ('-s', $WRK_LUA, (map { ('-H', $_) } @{ $a{headers} || [] }),
            "http://127.0.0.1:$srv->{port}$a{path}", '--', @{ $a{args} });
}

# Which part of each command's calls the server sent itself, not a script
# inside (name -> share): a script's usec already holds what it ran, so
# Redis's time per request is the usec of what the server sent.  A 1 s run
# on one connection under MONITOR tells them apart, once for each server
# and kind of request.
my %SHARE;

sub top_share {
    my ($srv, %a) = @_;
    my $key = "$srv->{name} $a{path} $a{args}[0]";
    return $SHARE{$key} //= do {
        my $mon = BookingRace::Monitor->new($RPORT);
        $mon->drain;
        my $out = qx{timeout -k 5 30 wrk -t1 -c1 -d1s @{[ map { "'$_'" } wrk_cmd($srv, %a) ]}};
        die "wrk under MONITOR failed:\n$out\n" if $?;
        my (%top, %all);
        for my $e (@{ $mon->drain(120) }) {
            my $name = lc $e->{args}[0];
            $all{$name}++;
            $top{$name}++ if $e->{client} ne 'lua';
        }
        $mon->close_monitor;
        +{ map { $_ => ($top{$_} // 0) / $all{$_} } keys %all };
    };
}

# Redis's own time for the commands a run caused, per request (us)
sub redis_usec {
    my ($stats, $share, $n) = @_;
    my $usec = 0;
    for my $name (keys %$stats) {
        next if $name =~ /^(?:info|monitor|echo|config)$/;
        $usec += $stats->{$name}[1] * ($share->{$name} // 1);
    }
    return $usec / $n;
}

# one wrk run against one server: its numbers and costs
# The last server may still be at work after its wrk ended: a peer whose
# requests outlive their clients (a Lua handler goes on with its Redis
# calls) or Redis's own backlog of its scripts.  That would slow the next
# run's first seconds and count in its window, so each run waits until
# Redis is quiet: three windows of 50 ms in a row in which it ran at most
# 3 commands (INFO's own, the sweepers' few), 15 s at most.
sub settle_redis {
    my ($quiet, $end) = (0, time + 15);
    my $last = info('stats')->{total_commands_processed} // 0;
    while ($quiet < 3 && time < $end) {
        sleep 0.05;
        my $now = info('stats')->{total_commands_processed} // 0;
        $quiet = $now - $last <= 3 ? $quiet + 1 : 0;
        $last = $now;
    }
}

sub run_wrk {
    my (%a) = @_;
    my $srv = $a{server};
    my $secs = $a{secs} // $SECS;
    settle_redis();
    my $share = top_share($srv, %a);
    my @cmd = ('wrk', '-t2', '-c64', "-d${secs}s", '--latency',
               wrk_cmd($srv, %a));
    my $m = measure([ $srv->{pids}->() ],
                    [ $srv->{parts} ? $srv->{parts}->() : () ], sub {
        open my $ph, '-|', 'timeout', '-k', '5', $secs + 60, @cmd
            or die "wrk: $!\n";
        local $/;
        my $out = <$ph> // '';
        close $ph;
        return $out;
    });
    my $out = $m->{out};
    my %r = (server => $srv->{name},
             command => join ' ', map { /[\s{}&?;'"]/ ? "'$_'" : $_ } @cmd);
    ($r{requests}) = $out =~ /(\d+) requests in/;
    ($r{rps}) = $out =~ /Requests\/sec:\s+([\d.]+)/;
    $r{p50} = ms($out =~ /^\s+50%\s+(\S+)/m ? $1 : undef);
    $r{p99} = ms($out =~ /^\s+99%\s+(\S+)/m ? $1 : undef);
    if ($out =~ /BENCH ok=(\d+) c409=(\d+) other=(\d+) confirms=(\d+) codes=(\S*)/) {
        @r{qw(ok c409 other confirms codes)} = ($1, $2, $3, $4, $5);
    }
    if ($out =~ /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/) {
        $r{socket} = $1 + $2 + $3 + $4;
        $r{socket_text} = "connect $1, read $2, write $3, timeout $4";
    }
    unless ($r{requests} && defined $r{ok}) {
        print STDERR "wrk failed for $srv->{name} $a{path}:\n$out\n";
        $r{failed} = 1;
        return \%r;
    }
    my $n = $r{requests};
    $r{errors} = $r{other} + ($r{socket} // 0);
    $r{cmds} = $m->{calls} / $n;
    $r{cpu} = per_req($m->{ticks}, $n);
    $r{rcpu} = per_req($m->{rticks}, $n);
    $r{rusec} = redis_usec($m->{stats}, $share, $n);
    $r{busy} = $m->{other};
    $r{parts} = join ', ', map { sprintf '%s %.0f', $_->[0], per_req($_->[1], $n) }
        @{ $m->{parts} };
    sleep 0.5;
    return \%r;
}

# ------------------------------------------------------------ conformance

my $HTTP = HTTP::Tiny->new(timeout => 10, keep_alive => 0);

sub call {
    my ($srv, $method, $path, %o) = @_;
    my $res = $HTTP->request($method, "http://127.0.0.1:$srv->{port}$path",
        { headers => $o{headers} || {},
          defined $o{body} ? (content => $o{body}) : () });
    my $json = eval { JSON::PP->new->utf8->decode($res->{content}) };
    return { status => $res->{status}, json => $json,
             ct => $res->{headers}{'content-type'} // '',
             token => $res->{headers}{'booking-token'} };
}

# an answer with what differs from one booking to the next (ids, tokens,
# clocks, the slot each server was given) and the JSON parser's own words
# left out
sub norm {
    my ($x, @vary) = @_;
    my $j = $x->{json};
    if (ref $j eq 'HASH') {
        $j = { %$j };
        for (qw(id token created_at expires_at), @vary) {
            $j->{$_} = "<$_>" if exists $j->{$_};
        }
        if (ref $j->{error} eq 'HASH') {
            my $e = $j->{error} = { %{ $j->{error} } };
            $e->{message} = '<message>' if $e->{code} eq 'invalid_json';
            if ($e->{conflicts}) {
                $e->{message} =~ s/ from .*//;
                $e->{conflicts} = [ map { { map { $_ => '<x>' } keys %$_ } }
                                    @{ $e->{conflicts} } ];
            }
        }
    }
    return { status => $x->{status}, body => $j,
             type => $x->{ct} =~ m{^application/json} ? 'json' : $x->{ct},
             token_header => !$x->{token} ? 'none'
                 : ref $x->{json} eq 'HASH' && ($x->{json}{token} // '') eq $x->{token}
                 ? 'same as in the body' : 'differs' };
}

# the same requests to every server: the answers must be the same
sub conformance {
    my $k = 0;
    my $h = { 'X-User-Id' => 'conf-user' };
    my $hj = { %$h, 'Content-Type' => 'application/json' };
    my $from = iso($TODAY + $DAY);
    my $to = iso($TODAY + 31 * $DAY);
    my $avail = sub { my ($srv, $id, $q) = @_;
        norm(call($srv, 'GET', "/api/resources/$id/availability$q",
                  headers => $h)) };
    my $post = sub { my ($srv, $body, $hd) = @_;
        call($srv, 'POST', '/api/bookings', headers => $hd // $hj,
             body => ref $body ? $JSON->encode($body) : $body) };
    my @checks = (
        [ 'availability of a car over 30 days', sub {
              $avail->($_[0], rid('car', 7), "?from=$from&to=$to") } ],
        [ 'availability of a desk over 30 days', sub {
              $avail->($_[0], rid('desk', 4), "?from=$from&to=$to") } ],
        [ 'availability of a room over 30 days (dates)', sub {
              $avail->($_[0], rid('room', 3), '?from=' . date($TODAY + $DAY)
                       . '&to=' . date($TODAY + 31 * $DAY)) } ],
        [ 'availability of a gift (timeless)', sub {
              $avail->($_[0], rid('gift', 1), '') } ],
        [ 'availability of no such resource', sub {
              $avail->($_[0], 'nope', "?from=$from&to=$to") } ],
        [ 'availability with a bad date', sub {
              $avail->($_[0], rid('car', 7), "?from=tomorrow&to=$to") } ],
        [ 'availability with to before from', sub {
              $avail->($_[0], rid('car', 7), "?from=$to&to=$from") } ],
        [ 'POST with unparsable JSON', sub {
              norm($post->($_[0], '{"resource":')) } ],
        [ 'POST with a string quantity', sub {
              norm($post->($_[0], { resource => 'x', quantity => '1' })) } ],
        [ 'POST with an unknown field', sub {
              norm($post->($_[0], { resource => 'x', colour => 'red' })) } ],
        [ 'POST without a user', sub {
              norm($post->($_[0], { resource => 'x', hold => \1 },
                           { 'Content-Type' => 'application/json' })) } ],
        [ 'POST on no such resource', sub {
              norm($post->($_[0], { resource => 'nope', hold => \1,
                  start => iso($TODAY + 40 * $DAY),
                  end => iso($TODAY + 40 * $DAY + 3600) })) } ],
        [ 'POST with a misaligned start', sub {
              norm($post->($_[0], { resource => rid('car', 7), hold => \1,
                  start => iso($TODAY + 40 * $DAY + 60),
                  end => iso($TODAY + 40 * $DAY + 3600) })) } ],
        [ 'POST a hold, confirm it with its token, POST the same slot again, '
          . 'cancel with a forged token', sub {
              my ($srv) = @_;
              my $slot = $TODAY + (50 + $k++) * $DAY + 10 * 3600;
              my $body = { resource => rid('car', 11), start => iso($slot),
                           end => iso($slot + 3600), hold => \1 };
              my $hold = $post->($srv, $body);
              my $id = ref $hold->{json} eq 'HASH'
                     ? $hold->{json}{id} // 'x' : 'x';
              my $conf = call($srv, 'POST', "/api/bookings/$id/confirm",
                  headers => { 'Booking-Token' => $hold->{token} // '' });
              my $again = $post->($srv, $body);
              my $forged = call($srv, 'POST', "/api/bookings/$id/cancel",
                  headers => { 'Booking-Token' => 'A' x 43 });
              [ norm($hold, qw(start end)), norm($conf, qw(start end)),
                norm($again), norm($forged) ] } ],
        # the servers that serve listing pages only; each page's cursor is
        # each server's own, whether there is one is not
        (map { my $q = $_; [ "listing page: $q", sub {
              my $r = call($_[0], 'GET', "/api/resources?$q", headers => $h);
              $r->{json}{next} = '<next>'
                  if ref $r->{json} eq 'HASH' && exists $r->{json}{next};
              norm($r) }, 'listing' ] }
         'type=ride&limit=5', 'type=gift&limit=3',
         "type=car&from=$from&to=$to&limit=7",
         "type=desk&from=$from&to=$to&quantity=3&limit=4"),
    );
    my @rows;
    for my $srv (@SERVERS) {
        push @rows, [ map { $_->[2] && !$srv->{listing} ? undef
                                                        : $_->[1]->($srv) }
                      @checks ];
    }
    my $enc = JSON::PP->new->canonical;
    my @bad;
    for my $c (0 .. $#checks) {
        my $want = $enc->encode($rows[0][$c]);
        for my $s (1 .. $#SERVERS) {
            next unless defined $rows[$s][$c];
            my $got = $enc->encode($rows[$s][$c]);
            next if $got eq $want;
            push @bad, "$SERVERS[$s]{name} differs from ngx_booking on "
                     . "\"$checks[$c][0]\":\n    ngx_booking: "
                     . substr($want, 0, 700) . "\n    $SERVERS[$s]{name}: "
                     . substr($got, 0, 700);
        }
    }
    printf "Same answers from the %d servers (%d checks, the JSON "
        . "compared as data): %s\n", scalar @SERVERS, scalar @checks,
        @bad ? 'NO' : 'yes';
    print "  $_\n" for @bad;
}

# ------------------------------------------------------------ the report

sub fnum {
    my ($n, $d) = @_;
    return '-' unless defined $n;
    my $s = sprintf "%.${d}f", $n;
    1 while $s =~ s/^(\d+)(\d{3})/$1,$2/;
    return $s;
}

sub print_machine {
    chomp(my $nproc = `nproc`);
    my ($model) = `grep -m1 'model name' /proc/cpuinfo` =~ /:\s*(.*)/;
    chomp(my $kernel = `uname -r`);
    chomp(my $nginx = `/usr/sbin/nginx -v 2>&1`);
    chomp(my $redis = `redis-server --version`);
    chomp(my $node = `node --version`);
    chomp(my $wrk = `wrk -v 2>&1 | head -1`);
    ($redis) = $redis =~ /v=(\S+)/;
    my $mem = `grep MemTotal /proc/meminfo` =~ /(\d+)/ ? int($1 / 1024) : '?';
    print "Machine: nproc $nproc, $model, ${mem} MB, Linux $kernel\n";
    print "Software: $nginx, Redis $redis, Node $node, "
        . ($wrk =~ /(wrk \S+)/ ? $1 : 'wrk') . ", Debian lua-nginx-module "
        . `dpkg-query -W -f='\${Version}' libnginx-mod-http-lua 2>/dev/null`
        . ", ioredis "
        . eval { JSON::PP->new->decode(scalar `cat '$BENCH/peers/node/node_modules/ioredis/package.json'`)->{version} }
        . "\n";
    print "Everything on 127.0.0.1: wrk, the nginx of each server, node and "
        . "redis-server share these $nproc cores.\n";
}

sub print_table {
    my ($rows, $limit) = @_;
    my %base;
    for (@$rows) {
        $base{ $_->{op} } = $_->{rps} if $_->{server} eq 'ngx_booking';
    }
    my $fmt = "%-29s %-13s %9s %7s %7s %7s %6s %6s %7s %8s %8s %8s %8s\n";
    printf $fmt, 'operation', 'server', 'req/s', 'p50', 'p99', '409',
        'errors', 'ratio', 'ratio', 'Redis', 'Redis', 'CPU', 'Redis';
    printf $fmt, '', '', '', 'ms', 'ms', '', '', 'to ngx', 'to', 'us/req', 'cmds',
        'us/req', 'CPU';
    printf $fmt, '', '', '', '', '', '', '', 'booking', 'limit', '', '/req', '',
        'us/req';
    print '-' x 140, "\n";
    my $last = '';
    for my $r (@$rows) {
        print "\n" if $last ne '' && $r->{op} ne $last;
        $last = $r->{op};
        if ($r->{failed}) {
            printf "%-29s %-13s  failed (see above)\n", $r->{op}, $r->{server};
            next;
        }
        my $b = $base{ $r->{op} };
        printf $fmt, $r->{op}, $r->{server},
            fnum($r->{rps}, 0) . ($r->{busy} > 0.1 ? '*' : ''),
            fnum($r->{p50}, 2), fnum($r->{p99}, 2), fnum($r->{c409}, 0),
            fnum($r->{errors}, 0),
            $b ? sprintf('%.2f', $r->{rps} / $b) : '-',
            $limit ? sprintf('%.3f', $r->{rps} / $limit) : '-',
            fnum($r->{rusec}, 1), fnum($r->{cmds}, 1), fnum($r->{cpu}, 1),
            fnum($r->{rcpu}, 1);
    }
}

sub load_average {
    my ($load) = `cat /proc/loadavg` =~ /^(\S+ \S+ \S+)/;
    return $load // '?';
}

sub busy_note {
    my (@rows) = @_;
    my @busy = grep { !$_->{failed} && $_->{busy} > 0.1 } @rows;
    my $worst = max(0, map { $_->{busy} // 0 } grep { !$_->{failed} } @rows);
    printf "  Other processes took at most %.0f%% of the machine during a run%s\n",
        100 * $worst, @busy ? '; * marks the runs where they took more than '
                             . '10% (those numbers are low)' : '';
}

# ------------------------------------------------------------ part 1

my $NCAR = 3000;
my %COUNT = (car => $NCAR, desk => 2000, ride => 1500, room => 2500,
             couch => 500, gift => 500);
my %CAP = (car => sub { 1 }, desk => sub { $_[0] % 4 ? 1 : 12 },
           ride => sub { 4 }, room => sub { 1 + ($_[0] % 5 == 0) },
           couch => sub { 1 }, gift => sub { 10 + $_[0] % 91 });

sub seed_all {
    my $t0 = time;
    print "Seeding 10,000 resources (", join(', ', map { "$COUNT{$_} $_" }
        grep { $TYPE{$_} } qw(car desk ride room couch gift)),
        ") with a third of the next 30 days taken... ";
    for my $type (qw(car desk ride room couch gift)) {
        next unless $TYPE{$type};
        seed(type => $type, prefix => $type, n => $COUNT{$type}, days => 30,
             cap => $CAP{$type});
    }
    # one race resource per server, 4 seats
    seed(type => 'ride', prefix => 'race', n => scalar @SERVERS, days => 0,
         cap => sub { 4 });
    my $mem = info('memory');
    printf "%.1f s, Redis used_memory %.0f MB\n", time - $t0,
        $mem->{used_memory} / 1048576;
}

# Runs $run->($srv) on every server (or those given), $ROUNDS times, in another order each
# round (so that no server always runs first or last); each server's row
# is its median run by req/s, with every round's req/s and its ratio to
# ngx_booking's in the same round kept for the notes.
my @SPREAD;

sub side_by_side {
    my ($op, $run, @only) = @_;
    my @S = @only ? @only : @SERVERS;
    my (%runs, @base);
    for my $k (0 .. $ROUNDS - 1) {
        for my $i (0 .. $#S) {
            my $srv = $S[ ($i + $k) % @S ];
            my $r = $run->($srv);
            $r->{op} = $op;
            push @{ $runs{ $srv->{name} } }, $r;
            print '.';
        }
    }
    my @rows;
    my $ngx = $runs{ $S[0]{name} };
    for my $srv (@S) {
        my $all = $runs{ $srv->{name} };
        my @ok = sort { $a->{rps} <=> $b->{rps} } grep { !$_->{failed} } @$all;
        push @rows, @ok ? $ok[ $#ok / 2 ] : $all->[0];
        next if $srv == $S[0];
        my @ratios = map {
            ($all->[$_]{failed} || $ngx->[$_]{failed}) ? undef
                : $ngx->[$_]{rps} / $all->[$_]{rps}
        } 0 .. $ROUNDS - 1;
        push @SPREAD, sprintf "%s, %s: req/s by round %s; ngx_booking is "
            . "%s times it, round by round",
            $op, $srv->{name},
            join(' ', map { $_->{failed} ? 'failed' : fnum($_->{rps}, 0) } @$all),
            join(' ', map { defined $_ ? sprintf('%.2f', $_) : '-' } @ratios);
    }
    push @SPREAD, sprintf "%s, %s: req/s by round %s", $op,
        $S[0]{name},
        join(' ', map { $_->{failed} ? 'failed' : fnum($_->{rps}, 0) } @$ngx);
    return @rows;
}

sub part1 {
    my $t0 = time;
    my $load0 = load_average();

    conformance();

    my @rows;
    my $from = iso($TODAY + $DAY);
    my $to = iso($TODAY + 31 * $DAY);
    my $u = [ 'X-User-Id: bench' ];

    print "Running wrk, ${SECS} s a run";
    my $limit = run_wrk(server => $SERVERS[0], path => '/limit', args => ['get']);
    $limit->{op} = 'nginx return 200 (limit)';
    $limit->{server} = 'nginx';
    push @rows, $limit;
    print '.';

    push @rows, side_by_side('availability, 30 d of 1h', sub {
        run_wrk(server => $_[0], path => '/', headers => $u,
                args => [ 'avail', 'car-', $NCAR, $from, $to ]);
    });
    # listing pages: the module and the own peers (the peers on the
    # module's scripts have no listing)
    # without dates; over a month nobody booked yet (days 31 to 61: the
    # page fills from about 30 candidates); over the seeded month, where
    # hardly a car is free all month long (the page reads as many
    # candidates as it may: 100)
    my @listers = grep { $_->{listing} } @SERVERS;
    my $later = '&from=' . iso($TODAY + 31 * $DAY) . '&to='
              . iso($TODAY + 61 * $DAY);
    for my $l ([ 'listing of 20, no dates', 'ride', '' ],
               [ 'listing of 20, 30 free days', 'car', $later ],
               [ 'listing of 20, 30 days taken', 'car', "&from=$from&to=$to" ]) {
        my ($what, $type, $range) = @$l;
        push @rows, side_by_side("$what, uncached", sub {
            run_wrk(server => $_[0], path => "/api/resources?type=$type"
                    . "$range&limit=20", headers => $u, args => ['get']);
        }, @listers);
    }
    my $page = "/api/resources?type=car&from=$from&to=$to&limit=20";
    my $r = run_wrk(server => $SERVERS[0], path => $page, args => ['get']);
    $r->{op} = 'listing of 20, 30 days, cached';
    push @rows, $r;
    print '.';

    # every hold run has 4 chunks (4,096 hours) of the car calendar for
    # itself, 60 days ahead and more, far from the seeded month
    my $chunk0 = ceil(($TODAY + 60 * $DAY) / 3600 / 1024);
    my $window = 0;
    my @holds;
    for my $mode (qw(hold pair)) {
        my @r = side_by_side($mode eq 'hold' ? 'hold (POST /bookings)'
                                             : 'hold, then confirm it', sub {
            my $t0w = ($chunk0 + 4 * $window++) * 1024 * 3600;
            run_wrk(server => $_[0], path => '/',
                    args => [ $mode, 'car-', $NCAR, $t0w, 4096, 3600 ]);
        });
        push @rows, @r;
        push @holds, @r;
    }

    my %race = map { $SERVERS[$_]{name} => rid('race', $_) } 0 .. $#SERVERS;
    my $race_start = iso($TODAY + $DAY + 10 * 3600);
    my $race_end = iso($TODAY + $DAY + 10 * 3600 + 900);
    push @rows, side_by_side('race for the last seats', sub {
        run_wrk(server => $_[0], path => '/',
                args => [ 'race', $race{ $_[0]{name} }, $race_start,
                          $race_end ]);
    });
    print "\n\n";

    print "ngx_booking side by side: every row measured in this one run, "
        . "wrk -t2 -c64 -d${SECS}s --latency; the rows with peers are each "
        . "server's median of $ROUNDS rounds\n";
    print_machine();
    print "Command: make bench (perl tests/bench/bench.pl --all), "
        . "BENCH_SECONDS=$SECS; each row's exact command is listed below.\n\n";
    print_table(\@rows, $limit->{rps});

    print "\nColumns: ratio to ngx_booking = req/s over ngx_booking's for the "
        . "same operation; ratio to limit = over nginx's own return 200;\n"
        . "  409 = answers 409 (a slot already taken: expected in the race, "
        . "rare in the holds); errors = every other status >= 400 and wrk's\n"
        . "  socket errors; Redis us/req = Redis's own time (INFO commandstats "
        . "usec) for the commands the server sent, scripts whole, per request;\n"
        . "  Redis cmds/req = every command Redis ran (those scripts ran "
        . "included) per request; CPU us/req = user+system CPU of the\n"
        . "  server's nginx workers (and of the node process for the Node peers) "
        . "per request; Redis CPU us/req = redis-server's (its network I/O\n"
        . "  included).  OpenResty and Node+nginx run the module's scripts; "
        . "OpenResty own and Node own, their own (tests/bench/peers/own).\n";
    print "Notes:\n";
    print "  Rounds (each server ran each operation $ROUNDS times, in another "
        . "order each round; the table shows the median run):\n";
    print "    $_\n" for @SPREAD;
    print "  The listing rows have the own peers only: the peers on the "
        . "module's scripts serve availability and bookings.\n";
    for my $r (@rows) {
        next if $r->{failed};
        print "  $r->{op}, $r->{server}: CPU us/req is $r->{parts}\n"
            if $r->{parts};
        print "  $r->{op}, $r->{server}: wrk socket errors: $r->{socket_text}\n"
            if $r->{socket};
        print "  $r->{op}, $r->{server}: errors by status: $r->{codes}\n"
            if $r->{codes};
    }
    for my $r (@holds) {
        next if $r->{failed};
        if ($r->{op} =~ /confirm/) {
            printf "  %s, %s: %s holds confirmed (each row counts the holds "
                . "and the confirms as requests)\n",
                $r->{op}, $r->{server}, fnum($r->{confirms}, 0);
        } else {
            printf "  %s, %s: %.1f%% of the holds got their slot\n",
                $r->{op}, $r->{server}, 100 * $r->{ok} / $r->{requests};
        }
    }
    busy_note(@rows);
    print "  Load average before: $load0; after: " . load_average() . "\n";
    printf "  Part 1 took %.0f s.  The commands, in the order they ran:\n",
        time - $t0;
    for my $r (@rows) {
        print "    $r->{command}\n" if $r->{command};
    }
}

# ------------------------------------------------------------ part 2

sub used_memory {
    redis1('MEMORY', 'PURGE');
    return info('memory')->{used_memory};
}

sub part2 {
    my $t0 = time;
    print "\nGrowth: Redis memory, and costs as ranges and bookings grow "
        . "(wrk -t2 -c64 -d${GSECS}s --latency, tests/bench/wrk.lua)\n\n";

    # memory: resources, the first booking of each (which makes its counter
    # chunk), then ten more bookings each
    my $n = 1000;
    my $m0 = used_memory();
    http_pipe($ngx->port, { 201 => 1 },
              map { put_req(rid('mem', $_), doc('car', $_, 1)) } 0 .. $n - 1);
    my $m1 = used_memory();
    my $base = (ceil(($TODAY + 100 * $DAY) / 3600 / 1024) + 1) * 1024 * 3600;
    my @offset = map { int rand(1024 - 24) } 0 .. $n - 1;
    my $post = sub {
        my ($i, $k) = @_;
        my $s = $base + ($offset[$i] + 2 * $k) % 1024 * 3600;
        return post_req('u' . int(rand 1000), { resource => rid('mem', $i),
            start => iso($s), end => iso($s + 3600) });
    };
    http_pipe($ngx->port, { 201 => 1 }, map { $post->($_, 0) } 0 .. $n - 1);
    my $m2 = used_memory();
    http_pipe($ngx->port, { 201 => 1 },
              map { my $i = $_; map { $post->($i, $_) } 1 .. 10 } 0 .. $n - 1);
    my $m3 = used_memory();
    printf "Redis memory (INFO memory used_memory, deltas):\n"
        . "  per resource (PUT of %s car resources with a title, owner, "
        . "location, attributes): %s bytes\n"
        . "  per first booking of a resource, with the counter chunk it makes "
        . "(4 bytes a slot up to its slot: 2 KB on average here): %s bytes\n"
        . "  per booking (10,000 more, 10 a resource, in chunks that exist: "
        . "the booking hash, its live and all entries, the user index): %s bytes\n\n",
        fnum($n, 0), fnum(($m1 - $m0) / $n, 0), fnum(($m2 - $m1) / $n, 0),
        fnum(($m3 - $m2) / 10 / $n, 0);

    # availability over longer ranges: 100 cars with a third of a year taken
    seed(type => 'car', prefix => 'gav', n => 100, days => 367,
         cap => sub { 1 });
    my @rows;
    my $from = $TODAY + $DAY;
    for my $days (1, 30, 365) {
        for my $srv (@SERVERS) {
            my $r = run_wrk(server => $srv, path => '/', secs => $GSECS,
                            headers => [ 'X-User-Id: bench' ],
                            args => [ 'avail', 'gav-', 100, iso($from),
                                      iso($from + $days * $DAY) ]);
            $r->{what} = "availability, $days day" . ($days > 1 ? 's' : '')
                       . ' of 1h (' . $days * 24 . ' slots)';
            push @rows, $r;
            print '.';
        }
    }

    # holds on one resource that has 0, 1,000, 10,000 bookings, made by the
    # module's own booking_create script.  The resource has a capacity of
    # 1,000,000 so that every hold of the run fits wherever it falls; each
    # level runs twice, on a fresh resource each time, in the order 0, 1k,
    # 10k, 10k, 1k, 0, and the better run is shown (the machine is shared).
    my %best;
    my $pass = 0;
    for my $level (0, 1000, 10000, 10000, 1000, 0) {
        my $id = rid("grow$level-" . $pass++, 0);
        http_pipe($ngx->port, { 201 => 1 },
                  put_req($id, doc('car', $level, 1_000_000)));
        my @cmds;
        for my $k (1 .. $level) {
            my $s = $TODAY + (2 * $DAY) + int(rand(400 * 24)) * 3600;
            my $user = 'u' . int(rand 1000);
            my $rand = sprintf 'g%015d', $k;
            (my $shard = rkey($id, '')) =~ s/:r:.*//;
            push @cmds, [ 'FCALL', $FN->{booking_create}, 11,
                          (map { rkey($id, $_) } '', qw(:b :c :k :h :a)),
                          "$shard:events", "$shard:due",
                          (map { rkey($id, $_) } qw(:x :v :i:)),
                          $rand, $user, 'booking', 0,
                          $s, $s + 3600, 1, '', 0, '', '', '', '', '', '',
                          @RULES ];
        }
        for (redis_pipe(@cmds)) {
            die "seeding bookings: " . $JSON->encode($_) . "\n"
                unless ref $_ eq 'ARRAY' && $_->[0] eq 'ok';
        }
        my $t0w = ceil(($TODAY + 2 * $DAY) / 3600) * 3600;
        (my $prefix = $id) =~ s/\d{12}$//;
        my $r = run_wrk(server => $SERVERS[0], path => '/', secs => $GSECS,
                        args => [ 'hold', $prefix, 1, $t0w, 28 * 24, 3600 ]);
        $r->{what} = 'hold on a resource with ' . fnum($level, 0)
                   . ' bookings';
        $r->{after} = redis1('HLEN', rkey($id, ':b'));
        $r->{runs} = [ @{ ($best{$level} // {})->{runs} // [] },
                       $r->{failed} ? 'failed' : fnum($r->{rps}, 0) ];
        $best{$level} = $r if !$best{$level} || $best{$level}{failed}
            || (!$r->{failed} && $r->{rps} > $best{$level}{rps});
        $best{$level}{runs} = $r->{runs};
        print '.';
    }
    my @hold_rows = map { $best{$_} } 0, 1000, 10000;
    print "\n\n";

    my $fmt = "%-42s %-12s %9s %8s %8s %6s %9s %9s %9s\n";
    printf $fmt, 'what', 'server', 'req/s', 'p50 ms', 'p99 ms', 'errors',
        'CPU', 'Redis', 'Redis';
    printf $fmt, '', '', '', '', '', '', 'us/req', 'cmds/req', 'CPU us/req';
    print '-' x 121, "\n";
    my $last = '';
    for my $r (@rows, @hold_rows) {
        print "\n" if $last ne '' && $r->{what} ne $last;
        $last = $r->{what};
        if ($r->{failed}) {
            printf "%-42s %-12s  failed\n", $r->{what}, $r->{server};
            next;
        }
        printf $fmt, $r->{what}, $r->{server},
            fnum($r->{rps}, 0) . ($r->{busy} > 0.1 ? '*' : ''),
            fnum($r->{p50}, 2), fnum($r->{p99}, 2),
            fnum($r->{errors} + $r->{c409}, 0), fnum($r->{cpu}, 1),
            fnum($r->{cmds}, 1), fnum($r->{rcpu}, 1);
    }
    print "\nNotes:\n";
    for my $r (@hold_rows) {
        next if $r->{failed};
        printf "  %s: req/s of the two runs %s; the resource had %s bookings "
            . "after the shown run (the run's own holds added)\n",
            $r->{what}, join(' and ', @{ $r->{runs} }), fnum($r->{after}, 0);
    }
    for my $r (@rows, @hold_rows) {
        next if $r->{failed};
        print "  $r->{what}, $r->{server}: errors by status: $r->{codes}\n"
            if $r->{codes};
        print "  $r->{what}, $r->{server}: 409: " . fnum($r->{c409}, 0) . "\n"
            if $r->{c409};
        print "  $r->{what}, $r->{server}: wrk socket errors: $r->{socket_text}\n"
            if $r->{socket};
    }
    busy_note(@rows, @hold_rows);
    printf "  Part 2 took %.0f s.\n", time - $t0;
}

# ------------------------------------------------------------ part 3

sub rss_kb {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return undef;
    local $/;
    my $s = <$fh>;
    return $s =~ /^VmRSS:\s*(\d+)\s*kB/m ? $1 : undef;
}

# Worker memory across 1,000,000 requests: every kind of request of part 1
# in turn (availability, holds, hold and confirm, the race, listing pages
# cached and not), 10 s runs until a million were answered; each worker's
# RSS after a warm-up round of the same runs, after each run, and at the
# end.
sub part3 {
    my $t0 = time;
    my $target = 1_000_000;
    my $from = iso($TODAY + $DAY);
    my $to = iso($TODAY + 31 * $DAY);
    my $page = '/api/resources?type=room&from=' . date($TODAY + 10 * $DAY)
             . '&to=' . date($TODAY + 13 * $DAY) . '&limit=20';
    my $u = [ 'X-User-Id: bench' ];
    my $chunk0 = ceil(($TODAY + 400 * $DAY) / 3600 / 1024);
    my $window = 0;
    my @mix = (
        sub { (path => '/', headers => $u,
               args => [ 'avail', 'car-', $NCAR, $from, $to ]) },
        sub { (path => '/', args => [ 'hold', 'car-', $NCAR,
                                      ($chunk0 + 4 * $window++) * 1024 * 3600,
                                      4096, 3600 ]) },
        sub { (path => '/', args => [ 'pair', 'car-', $NCAR,
                                      ($chunk0 + 4 * $window++) * 1024 * 3600,
                                      4096, 3600 ]) },
        sub { (path => '/', args => [ 'race', rid('race', 0),
                                      iso($TODAY + $DAY + 10 * 3600),
                                      iso($TODAY + $DAY + 10 * 3600 + 900) ]) },
        sub { (path => $page, headers => $u, args => ['get']) },
        sub { (path => $page, args => ['get']) },
    );

    print "\nWorker memory across " . fnum($target, 0) . " requests "
        . "(wrk -t2 -c64, 10 s runs of each kind in turn)\n";
    # a warm-up round like the measured ones: malloc's heap grows to what
    # the most requests in flight at once need (64 uncached listing pages
    # take a worker about 1 MB), and stays there; a leak would grow with
    # the requests served after it
    my $done = 0;
    for my $m (@mix) {
        my $r = run_wrk(server => $SERVERS[0], secs => 10, $m->());
        $done += $r->{requests} // 0;
    }
    my @pids = $ngx->worker_pids;
    my %before = map { $_ => rss_kb($_) } @pids;
    my ($n, $runs, $failed) = (0, 0, 0);
    my %seen = map { $_ => [ $before{$_} ] } @pids;
    while ($n < $target && $runs < 200) {
        my $r = run_wrk(server => $SERVERS[0], secs => 10,
                        $mix[$runs++ % @mix]->());
        $failed++ if $r->{failed};
        $n += $r->{requests} // 0;
        push @{ $seen{$_} }, rss_kb($_) // 0 for @pids;
        print '.';
    }
    print "\n";
    my @now = $ngx->worker_pids;
    printf "  %s requests in %d runs (%d failed) after %s of warm-up, %.0f s\n",
        fnum($n, 0), $runs, $failed, fnum($done, 0), time - $t0;
    my $worst = 0;
    for my $pid (@pids) {
        my ($b, $a) = ($before{$pid}, rss_kb($pid));
        if (!defined $b || !defined $a) {
            print "  worker $pid: gone (a worker was replaced)\n";
            $worst = 1e9;
            next;
        }
        printf "  worker %d: VmRSS %s kB before, %s kB after: %+d kB "
            . "(after each run: %s)\n", $pid, fnum($b, 0), fnum($a, 0),
            $a - $b, join(' ', @{ $seen{$pid} }[1 .. $#{ $seen{$pid} }]);
        $worst = max($worst, $a - $b);
    }
    printf "  the same workers throughout: %s; the most growth: %+d kB "
        . "(target: under 1 MB)\n",
        (join(',', sort @pids) eq join(',', sort @now) ? 'yes' : 'no'), $worst;
}

if ($CHECK) {
    seed_all();
    conformance();
    $ngx->stop;
    exit 0;
}
seed_all() if $PART1 || $PART3;
part1() if $PART1;
part2() if $PART2;
part3() if $PART3;

my @bad = $ngx->check_error_log(also => qr/\[error\]/);
# the first lines and the last: a peer's run that swamped the shared Redis
# shows at its time, and what came later (another row's errors) at the end
print "ngx_booking error log: ", (@bad ? scalar(@bad) . " lines, the first:\n"
    . join("\n", @bad[0 .. min(9, $#bad)]) . "\n"
    . (@bad > 10 ? "the last:\n" . join("\n", @bad[max(10, $#bad - 4) .. $#bad]) . "\n" : '')
    : "clean\n");
for my $log (map { ("$_-error.log", "$_.stderr") }
             qw(openresty openresty-own node-nginx node-own-nginx node node-own)) {
    open my $fh, '<', "$DIR/$log" or next;
    my @l = grep { /\[(?:error|crit|alert|emerg)\]|Error|redis:/ } <$fh>;
    print "$log: ", (@l ? scalar(@l) . " lines, the first: $l[0]" : "clean\n");
}
$ngx->stop;
exit 0;
