# Redis over maxmemory (noeviction) refuses every booking write, whatever
# the script does first: the scripts carry "#!lua" flags, so Redis refuses
# a writing script up front; the read-only GET of a booking still answers.
use strict;
use warnings;
use lib 't/lib';
use BookingTest;
use Test::More;
use POSIX qw(strftime);

my $t = BookingTest->new(workers => 1);
my $U = { 'X-User-Id' => 'ann' };
my $d1 = strftime('%Y-%m-%d', gmtime(time + 5 * 86400));
my $d2 = strftime('%Y-%m-%d', gmtime(time + 6 * 86400));
my $d3 = strftime('%Y-%m-%d', gmtime(time + 7 * 86400));

is $t->req(PUT => '/admin/resources/r1',
           body => { type => 'room', capacity => 5 })->{status}, 201,
   'a resource';
my $b = $t->req(POST => '/api/bookings', headers => $U,
                body => { resource => 'r1', start => $d1, end => $d2 });
is $b->{status}, 201, 'a booking before the limit';

my $keys = $t->redis('DBSIZE');
my $used = $t->redis('INFO', 'memory') =~ /used_memory:(\d+)/ ? $1 : 0;
ok $used > 0, 'used_memory read';
$t->redis('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
$t->redis('CONFIG', 'SET', 'maxmemory', int($used / 2));

for my $i (1 .. 5) {
    my $r = $t->req(POST => '/api/bookings', headers => $U,
                    body => { resource => 'r1', start => $d2, end => $d3 });
    is $r->{status}, 503, "over maxmemory: booking $i refused (503)";
    is $r->{json}{error}{code}, 'backend_unavailable', '... backend_unavailable';
}

my $c = $t->req(POST => "/api/bookings/$b->{json}{id}/cancel", headers => $U);
is $c->{status}, 503, 'over maxmemory: a cancel is a write too (503)';

my $g = $t->req(GET => "/api/bookings/$b->{json}{id}", headers => $U);
is $g->{status}, 200, 'over maxmemory: reading a booking still answers';
is $g->{json}{status}, 'confirmed', '... as it was';

is $t->redis('DBSIZE'), $keys, 'nothing was written over the limit';

$t->redis('CONFIG', 'SET', 'maxmemory', 0);
is $t->req(POST => '/api/bookings', headers => $U,
           body => { resource => 'r1', start => $d2, end => $d3 })->{status},
   201, 'below the limit again: booking works';

is_deeply [ $t->check_error_log ], [], 'no crash in the error log';

done_testing;
