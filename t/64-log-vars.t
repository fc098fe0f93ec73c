# The variables of log_format (README, "Log variables"; SPEC.md §7):
# $booking_op, $booking_status, $booking_id, $booking_resource,
# $booking_user and $booking_redis_time, read from a real access log.

use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use BookingTest;
use BookingRace qw(:all);

BookingRace::pin_module();

my $t = BookingTest->new(
    workers => 1,
    http => default_http() . 'log_format booking "$request_method $uri|$booking_op|'
        . '$booking_status|$booking_id|$booking_resource|$booking_user|'
        . "\$booking_redis_time\";\n",
    server => BookingTest::default_server() . "access_log %%DIR%%/booking.log booking;\n",
);

my $start = (int(time / 86400) + 3) * 86400;
my $stay = { resource => 'loft', start => iso($start), end => iso($start + 2 * 86400) };

is $t->req(PUT => '/admin/resources/loft', body => { type => 'room', capacity => 1 },
           headers => { 'X-User-Id' => 'host1' })->{status}, 201, 'a resource';
my $held = book($t, 'u1', { %$stay, hold => JSON::PP::true });
is $held->{status}, 201, 'a hold';
my $id = $held->{json}{id};
is act($t, 'u1', $id, 'confirm')->{status}, 200, 'confirmed';
my $refused = book($t, 'u2', $stay);
is $refused->{status}, 409, 'a booking refused';
is $t->req(GET => '/api/resources/loft/availability?from=' . iso($start)
           . '&to=' . iso($start + 86400))->{status}, 200, 'an anonymous read';
my $bad = $t->req(POST => '/api/bookings', body => '{', headers => {
                     'X-User-Id' => 'u3', 'Content-Type' => 'application/json' });
is $bad->{status}, 400, 'a body that is not JSON';
is $t->req(GET => '/plain')->{status}, 200, 'a request the API does not serve';

# the log is written when the request ends: wait for the last line
my @lines;
for (1 .. 50) {
    @lines = split /\n/, (eval { BookingTest::_slurp($t->dir . '/booking.log') } // '');
    last if @lines >= 7;
    sleep 0.05;
}
is scalar @lines, 7, 'a line a request';
my @f = map { [ split /\|/, $_, -1 ] } @lines;

is_deeply [ @{ $f[0] }[0 .. 5] ], [ 'PUT /admin/resources/loft', 'resource_put', 'ok', '-', 'loft', 'host1' ],
    'PUT: op, ok, no booking, the resource, the user';
is_deeply [ @{ $f[1] }[0 .. 5] ], [ 'POST /api/bookings', 'hold', 'ok', $id, 'loft', 'u1' ],
    'a hold: the id made, the resource of the body';
is_deeply [ @{ $f[2] }[0 .. 5] ], [ "POST /api/bookings/$id/confirm", 'confirm', 'ok', $id, 'loft', 'u1' ],
    'a transition: its verb, the booking of the path';
is_deeply [ @{ $f[3] }[1 .. 5] ], [ 'book', $refused->{json}{error}{code}, '-', 'loft', 'u2' ],
    'a refusal: its error code, no id';
is_deeply [ @{ $f[4] }[1 .. 5] ], [ 'availability', 'ok', '-', 'loft', '-' ],
    'an anonymous read: no user';
is_deeply [ @{ $f[5] }[1 .. 5] ], [ 'book', $bad->{json}{error}{code}, '-', '-', 'u3' ],
    'refused before Redis: the error code';
is_deeply [ @{ $f[6] }[1 .. 6] ], [ ('-') x 6 ], 'outside the API: every variable "-"';

like $f[$_][6], qr/^\d+\.\d{3}$/, "line $_: the Redis time in seconds, ms resolution"
    for 0 .. 4;
is $f[5][6], '0.000', 'no Redis call: 0.000';
ok !grep({ $_->[6] > 0.25 } @f[0 .. 4]), 'each under the Redis timeout';

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;
