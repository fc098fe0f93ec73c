# booking_status (README, "Metrics"; SPEC.md §7): the page passes
# Debian's `promtool check metrics`, and its counters, summed over every
# worker in shared memory, count exactly the requests made, racing ones
# included, whichever worker answers the scrape; they outlive a reload.
# The gauges sum every worker's Redis connections; a Redis stopped shows
# as unavailable calls.

use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use IPC::Open3 qw(open3);
use BookingTest;
use BookingRace qw(:all);

my $PROMTOOL = '/usr/bin/promtool';
plan skip_all => "no $PROMTOOL (Debian's prometheus package: make test installs it)"
    unless -x $PROMTOOL;

my $WORKERS = 4;
my $t = BookingTest->new(
    workers => $WORKERS,
    server => BookingTest::default_server() . "location = /metrics { booking_status; }\n",
);

sub scrape { return $t->req(GET => '/metrics') }

# every sample of the page: "name{labels}" => value
sub samples {
    my ($body) = @_;
    my %s;
    for (split /\n/, $body // '') {
        next if /^#/ || !/\S/;
        my ($k, $v) = /^(\S+(?:\{[^}]*\})?) (\S+)$/ or next;
        $s{$k} = $v;
    }
    return \%s;
}

sub requests {
    my ($body) = @_;
    my $s = samples($body);
    my %r;
    for my $k (keys %$s) {
        $r{"$1 $2"} = $s->{$k}
            if $k =~ /^booking_requests_total\{op="([^"]+)",status="([^"]+)"\}$/;
    }
    return \%r;
}

sub promtool {
    my ($text) = @_;
    my $pid = open3(my $in, my $out, undef, $PROMTOOL, 'check', 'metrics');
    print $in $text;
    close $in;
    my $said = do { local $/; <$out> } // '';
    waitpid $pid, 0;
    return ($? >> 8, $said);
}

# the counters of requests, once they have moved by what is wanted: the
# count happens when a request is logged, just after its answer went out
sub delta_after {
    my ($before, $want) = @_;
    my $deadline = time + 3 * BookingTest::slow();
    my %d;
    do {
        my $now = requests(scrape()->{body});
        %d = map { $_ => $now->{$_} - ($before->{$_} // 0) }
             grep { $now->{$_} != ($before->{$_} // 0) } keys %$now;
        return \%d if join(',', map { "$_=$d{$_}" } sort keys %d)
                   eq join(',', map { "$_=$want->{$_}" } sort keys %$want);
        sleep 0.05;
    } while (time < $deadline);
    return \%d;
}

my $page = scrape();
is $page->{status}, 200, 'booking_status answers';
like $page->{headers}{'content-type'} // '', qr{^text/plain; version=0\.0\.4},
    'in the text format 0.0.4';
my ($rc, $said) = promtool($page->{body});
is $rc, 0, 'promtool check metrics: the page of a fresh nginx' or diag $said;

# ------------------------------------------------------------ one of each

my $start = (int(time / 86400) + 3) * 86400;
my %want;
sub made {
    my ($op, $res) = @_;
    $want{"$op $res->{status}"}++;
    return $res;
}

my $m0 = requests(scrape()->{body});

made resource_put => $t->req(PUT => '/admin/resources/loft', body => { type => 'room', capacity => 1 });
made resource_put => $t->req(PUT => '/admin/resources/loft', body => { type => 'room', capacity => 1 });
made resource_get => $t->req(GET => '/api/resources/loft');
made resource_get => $t->req(GET => '/api/resources/nowhere');
my $stay = { resource => 'loft', start => iso($start), end => iso($start + 86400) };
my $held = made hold => book($t, 'u1', { %$stay, hold => JSON::PP::true });
my $id = $held->{json}{id} // '';
made book => book($t, 'u2', $stay);
made book => $t->req(POST => '/api/bookings', body => '{',
                     headers => { 'X-User-Id' => 'u3', 'Content-Type' => 'application/json' });
made confirm => act($t, 'u1', $id, 'confirm');
made booking_get => $t->req(GET => "/api/bookings/$id", headers => user_h('u1'));
made bookings_list => $t->req(GET => '/api/bookings', headers => user_h('u1'));
made availability => $t->req(GET => '/api/resources/loft/availability?from=' . iso($start)
                                    . '&to=' . iso($start + 86400));
made listing => $t->req(GET => '/api/resources?type=room');
made calendar => $t->req(GET => '/api/resources/loft/calendar.ics');
made cancel => act($t, 'u1', $id, 'cancel');
made other => act($t, 'u1', $id, 'transmogrify');
made other => $t->req(GET => '/api/nothing-here');
made resource_delete => $t->req(DELETE => '/admin/resources/loft');
is $t->req(GET => '/plain')->{status}, 200, 'a request outside the API (not counted)';

is_deeply [ sort grep { / (201|409|400|404|204|200)$/ } keys %want ], [ sort keys %want ],
    'the requests got the statuses they were meant to';
is_deeply delta_after($m0, \%want), \%want,
    'booking_requests_total moved by exactly the requests made, by op and status';

# ------------------------------------------------------------ racing

my $m1 = requests(scrape()->{body});
is $t->req(PUT => '/admin/resources/bus', body => { type => 'ride', capacity => 1000 })->{status},
    201, 'a ride of 1000 seats';
my $PER = 40;
my @kids = map {
    my $k = $_;
    BookingTest::bg(sub {
        my %st;
        for my $i (1 .. $PER) {
            my $r = book($t, "r$k", { resource => 'bus', start => iso($start + 900 * $i),
                                      end => iso($start + 900 * ($i + 1)),
                                      hold => JSON::PP::true });
            $st{ $r->{status} }++;
        }
        return \%st;
    });
} 1 .. 6;
my %raced;
for my $kid (@kids) {
    my $st = $kid->result(60) || {};
    $raced{"hold $_"} += $st->{$_} for keys %$st;
}
is_deeply \%raced, { 'hold 201' => 6 * $PER }, "6 clients race $PER holds each: all 201";
is_deeply delta_after($m1, { %raced, 'resource_put 201' => 1 }),
    { %raced, 'resource_put 201' => 1 },
    'every racing request counted once, across the workers';

# ------------------------------------------------------------ the rest

my $s = samples(scrape()->{body});
my @le = grep { /^booking_redis_duration_seconds_bucket/ } keys %$s;
ok @le >= 14, 'the Redis histogram has its buckets';
my @counts = map { $s->{$_} } sort {
    my ($x) = $a =~ /le="([^"]+)"/; my ($y) = $b =~ /le="([^"]+)"/;
    ($x eq '+Inf' ? 1e9 : $x) <=> ($y eq '+Inf' ? 1e9 : $y) } @le;
is_deeply [ sort { $a <=> $b } @counts ], \@counts, '... cumulative';
is $s->{'booking_redis_duration_seconds_count'}, $counts[-1], '... its count is the +Inf bucket';
cmp_ok $s->{'booking_redis_duration_seconds_count'}, '>=', 6 * $PER + 10,
    '... and counts at least a round trip a Redis-bound request';

# 2 connections a worker to each node: one Redis, or a Cluster's masters
sub ready_conns {
    my $deadline = time + 5 * BookingTest::slow();
    my ($v, $want);
    do {
        my $s = samples(scrape()->{body});
        $v = $s->{'booking_redis_connections{state="ready"}'} // -1;
        $want = $WORKERS * 2 * ($s->{booking_redis_cluster_nodes} || 1);
        return ($v, $want) if $v == $want;
        sleep 0.1;
    } while (time < $deadline);
    return ($v, $want);
}
my ($ready, $want) = ready_conns();
is $ready, $want, "ready connections summed over the $WORKERS workers (2 each a node)";

# ------------------------------------------------------------ a reload keeps them

my $before = requests(scrape()->{body});
$t->reload_nginx;
is_deeply requests(scrape()->{body}), $before, 'a reload keeps every counter';
($ready, $want) = ready_conns();
is $ready, $want, '... and the new workers take the gauges over';

# ------------------------------------------------------------ Redis gone

my $un0 = samples(scrape()->{body})->{'booking_redis_errors_total{kind="unavailable"}'};
$t->stop_redis;
my $down = $t->req(GET => '/api/resources/loft/availability?from=' . iso($start)
                   . '&to=' . iso($start + 86400));
is $down->{status}, 503, 'Redis stopped: 503';
my $after = samples(scrape()->{body});
cmp_ok $after->{'booking_redis_errors_total{kind="unavailable"}'}, '>', $un0,
    'booking_redis_errors_total{kind="unavailable"} counts it';
($rc, $said) = promtool(scrape()->{body});
is $rc, 0, 'promtool check metrics: the page after all of it' or diag $said;

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;
