#!/usr/bin/perl
# make bench-cost: what each operation costs Redis, alone.  One nginx and
# one redis-server, 1,000 cars seeded as make bench-compare seeds them, then
# each operation sent one at a time over a keep-alive connection; Redis's
# time per request is the usec of every command INFO commandstats counts
# (a script's includes what it ran), summed and divided by the requests.
# Sequential on purpose: under load the same sum holds, but this one is
# quick and does not move with the machine's other work.
#
#   perl tests/bench/cost.pl [--requests 500] [--module path.so] [--events]
#                            [--quota] [--waitlist] [--groups]
#
# --events: with booking_events on, each change also appends its event
# (the sweeper's lease and due_list calls, a few a second, count too).
# --quota: with a booking_quota on cars (count per month), each user's
# booking also reads the resource's type and claims in the user's slot.
# --groups: weekly series of 1, 4 and 12 occurrences and groups of 2 and 8
# items (cars, each a fresh range): the cost per occurrence and per item
# is the slope between them.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../t/lib";
use Getopt::Long;
use List::Util qw(sum);
use POSIX qw(floor);
use Time::HiRes qw(time);
use BookingTest;
use BookingRace ();

my ($REQ, $N, $MODULE, $EVENTS, $QUOTA, $WAIT, $GROUPS) = (500, 1000, undef, 0, 0, 0, 0);
GetOptions('requests=i' => \$REQ, 'resources=i' => \$N, 'module=s' => \$MODULE,
           'events' => \$EVENTS, 'quota' => \$QUOTA, 'waitlist' => \$WAIT,
           'groups' => \$GROUPS)
    or die "usage: $0 [--requests N] [--module path.so] [--events] [--quota] [--waitlist] [--groups]\n";
$ENV{BOOKING_MODULE} = $MODULE if $MODULE;

my $extra = ($EVENTS ? "booking_events on;\n" : '')
    . ($QUOTA ? "booking_quota fair count=100000 per=month types=car;\n" : '');
my $types = <<'EOT';
booking_type room  slot=1d hold=15m min=1d max=30d horizon=3650d;
booking_type car   slot=1h hold=10m min=1h max=14d@WAIT@;
booking_user $http_x_user_id;
EOT
$types =~ s/\@WAIT\@/$WAIT ? ' waitlist=on' : ''/e;
my $t = BookingTest->new(workers => 1, http => $types . $extra);

my $c = BookingRace::Conn->new($t->port);
my $now = time;
my $H0 = (floor($now / 3600) + 3) * 3600;
my $D = 30 * 86400;

sub iso { return POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $_[0]) }
sub car { return sprintf 'c%012d', $_[0] }

sub json_req {
    my ($method, $path, $body, $user) = @_;
    my %h = ('Content-Type' => 'application/json');
    $h{'X-User-Id'} = $user if $user;
    return $c->request($method, $path, \%h, $body);
}

for my $i (0 .. $N - 1) {
    json_req(PUT => '/admin/resources/' . car($i),
             sprintf('{"type":"car","capacity":2,"title":"Car %d","owner":"o%d",'
                     . '"location":{"lat":%.5f,"lon":%.5f},"attributes":{"seats":5}}',
                     $i, $i % 50, 48.39 + ($i % 100) / 1000, -4.49 + int($i / 100) / 1000));
    for my $d (0 .. 29) {
        my $s = $H0 + $d * 86400 + ($i % 16) * 3600;
        json_req(POST => '/admin/bookings',
                 sprintf('{"resource":"%s","kind":"block","start":"%s","end":"%s"}',
                         car($i), iso($s), iso($s + 8 * 3600)));
    }
}

# each operation: the requests to send (method, path, headers, body)
my $k = 0;
sub hold_spec {
    my $s = $H0 + (40 + int($k / $N) % 7) * 86400 + ($k % 24) * 3600;
    my $u = 'u' . ($k % 97);
    return [ POST => '/api/bookings', { 'X-User-Id' => $u, 'Content-Type' => 'application/json' },
             sprintf('{"resource":"%s","start":"%s","end":"%s","hold":true}',
                     car($k++ % $N), iso($s), iso($s + 3600)) ];
}
my @OPS = (
    [ 'availability, 30 days of 1h slots', sub {
        [ GET => '/api/resources/' . car($k++ % $N) . '/availability?from='
                 . iso($H0) . '&to=' . iso($H0 + $D), { 'X-User-Id' => 'u1' } ] } ],
    [ 'hold', \&hold_spec ],
    [ 'confirm', sub {
        # a hold made first, not counted: its confirm is
        my $h = hold_spec();
        my $r = $c->request(@$h);
        [ POST => "/api/bookings/$r->{json}{id}/confirm", { 'X-User-Id' => $h->[2]{'X-User-Id'} } ] },
      'prepare' ],
    [ 'listing page of 20', sub {
        [ GET => '/api/resources?type=car&limit=20', { 'X-User-Id' => 'u1' } ] } ],
    [ 'listing page of 20, 30 days', sub {
        [ GET => '/api/resources?type=car&limit=20&from=' . iso($H0) . '&to='
                 . iso($H0 + $D), { 'X-User-Id' => 'u1' } ] } ],
);

# --waitlist: joining a line (the range taken by a block and a hold of
# the same hours), and the cancel of such a hold, which offers its units
# to the one waiting in the same script
sub taken_spec {
    my $h = hold_spec();
    $h->[3] =~ s/,"hold":true/,"hold":true,"quantity":2/;
    my $r = $c->request(@$h);
    $h->[3] =~ s/,"hold":true,"quantity":2//;
    return ($h, $r);
}
push @OPS, (
    [ 'waitlist join', sub {
        my ($h) = taken_spec();
        my $body = $h->[3];
        [ POST => '/api/waitlist', { 'X-User-Id' => 'w' . $k, 'Content-Type' => 'application/json' },
          $body ] } ],
    [ 'cancel, offered to the one waiting', sub {
        my ($h, $r) = taken_spec();
        my $body = $h->[3];
        $c->request(POST => '/api/waitlist', { 'X-User-Id' => 'w' . $k,
                                               'Content-Type' => 'application/json' }, $body);
        [ POST => "/api/bookings/$r->{json}{id}/cancel", { 'X-User-Id' => $h->[2]{'X-User-Id'} } ] } ],
) if $WAIT;

# --groups: a weekly series of n hours of one car, and n cars the same
# hour as one group; each request its own week and hour, after the holds'
my $g = 0;
sub series_spec {
    my ($n) = @_;
    my $s = $H0 + (60 + 7 * 12 * int($g / ($N * 24))) * 86400 + ($g % 24) * 3600;
    my $car = car(int($g / 24) % $N);
    $g++;
    return [ POST => '/api/bookings', { 'X-User-Id' => 'u' . ($g % 97), 'Content-Type' => 'application/json' },
             sprintf('{"resource":"%s","start":"%s","end":"%s","repeat":{"freq":"weekly","count":%d}}',
                     $car, iso($s), iso($s + 3600), $n) ];
}
sub items_spec {
    my ($n) = @_;
    my $s = $H0 + (200 + int($g / 24)) * 86400 + ($g % 24) * 3600;
    $g++;
    my @items = map { sprintf '{"resource":"%s","start":"%s","end":"%s"}', car(($g * $n + $_) % $N),
                      iso($s), iso($s + 3600) } 0 .. $n - 1;
    return [ POST => '/api/bookings', { 'X-User-Id' => 'u' . ($g % 97), 'Content-Type' => 'application/json' },
             '{"items":[' . join(',', @items) . ']}' ];
}
push @OPS, (
    [ 'series of 1 (weekly)', sub { series_spec(1) } ],
    [ 'series of 4 (weekly)', sub { series_spec(4) } ],
    [ 'series of 12 (weekly)', sub { series_spec(12) } ],
    [ 'group of 2 items', sub { items_spec(2) } ],
    [ 'group of 8 items', sub { items_spec(8) } ],
) if $GROUPS;

# the requests, from $CLIENTS keep-alive connections at once: what Redis
# does per request does not change, and a busy Redis is measured as it
# runs under load
my $CLIENTS = 8;
sub send_all {
    my ($specs) = @_;
    my $port = $t->port;
    my @bg = map {
        my $i = $_;
        my @mine = @{$specs}[ grep { $_ % $CLIENTS == $i } 0 .. $#$specs ];
        BookingTest::bg(sub {
            my $conn = BookingRace::Conn->new($port);
            my %st;
            $st{ $conn->request(@$_)->{status} }++ for @mine;
            return \%st;
        });
    } 0 .. $CLIENTS - 1;
    my %st;
    for my $b (@bg) {
        my $r = $b->result(600);
        $st{$_} += $r->{$_} for keys %$r;
    }
    return \%st;
}

sub stats {
    my %s;
    for (split /\r?\n/, $t->redis('INFO', 'commandstats')) {
        next unless /^cmdstat_(\w+):calls=(\d+),usec=(\d+)/;
        next if $1 eq 'info' || $1 eq 'config';
        $s{$1} = { calls => $2, usec => $3 };
    }
    return \%s;
}

# Which calls of each command nginx sent itself, not a script inside:
# a script's usec already holds the commands it ran.
sub top_share {
    my ($op) = @_;
    my @specs = map { $op->[1]->() } 1 .. 20;
    my $mon = BookingRace::Monitor->new($t->redis_port);
    $mon->drain;
    $c->request(@$_) for @specs;
    my (%top, %all);
    for my $e (@{ $mon->drain }) {
        my $name = lc $e->{args}[0];
        next if $name =~ /^(?:monitor|info|config|echo)$/;
        $all{$name}++;
        $top{$name}++ if $e->{client} ne 'lua';
    }
    $mon->close_monitor;
    return { map { $_ => ($top{$_} // 0) / $all{$_} } keys %all };
}

printf "| operation | Redis us/op | commands/op (nginx's own) | statuses |\n|---|---:|---|---|\n";
for my $op (@OPS) {
    # a hold made to be confirmed goes through MONITOR too: share first
    my @specs = map { $op->[1]->() } 1 .. $REQ;
    my $share = top_share($op);
    $t->redis('CONFIG', 'RESETSTAT');
    my $st = send_all(\@specs);
    my $s = stats();
    my $usec = sum(0, map { $s->{$_}{usec} * ($share->{$_} // 0) } keys %$s) / $REQ;
    my @cmds = map { sprintf '%s %.1f', $_, $s->{$_}{calls} * $share->{$_} / $REQ }
               grep { $share->{$_} } sort keys %$s;
    printf "| %s | %.1f | %s | %s |\n", $op->[0], $usec, join(', ', @cmds),
           join(' ', map { "$_ x$st->{$_}" } sort keys %$st);
}
$t->stop;
