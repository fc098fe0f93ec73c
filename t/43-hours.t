# Opening hours (SPEC §6; README, "Resources"): a resource's "hours" are
# weekly intervals of its type's wall clock (booking_type tz=, UTC without)
# and closed dates; a booking (not an owner's block) must lie within one
# interval, in winter and in summer alike.
#
# - Paris desks open Monday 08:00-12:00 and 14:00-18:00, closed on
#   2027-01-18: 08:00 Paris is 07:00Z in January and 06:00Z in June, both
#   booked; before opening, across noon, after noon, a closed date, a day
#   with no hours: 422 naming start or end; a block is not held to hours;
# - a type with no tz reads hours in UTC;
# - PUT refuses hours off the slot, malformed ones, and hours of a
#   timeless type; a PUT without hours opens the resource again;
# - nginx -t refuses a tz that does not exist.

use strict;
use warnings;
use Test::More;
use BookingTest;
use BookingRace qw(:all);

my $t = BookingTest->new(workers => 2, http => <<'EOT');
booking_type desk slot=30m hold=5m tz=Europe/Paris;
booking_type hall slot=1h hold=5m;
booking_type gift slot=none hold=1d;
booking_user $http_x_user_id;
EOT

my %HOURS = (mon => [ '14:00-18:00', '08:00-12:00' ], closed => [ '2027-01-18' ]);
my $p = $t->req(PUT => '/admin/resources/d1', body => { type => 'desk', capacity => 5, hours => \%HOURS });
is $p->{status}, 201, 'PUT a Paris desk with opening hours';
is_deeply $t->req(GET => '/api/resources/d1')->{json}{hours}, \%HOURS, 'GET shows its hours as given';

sub try {
    my ($res, $s, $e, %o) = @_;
    return $t->req(POST => ($o{admin} ? '/admin/bookings' : '/api/bookings'),
                   body => { resource => $res, start => $s, end => $e, %{ $o{body} || {} } },
                   headers => { 'X-User-Id' => 'ann' });
}

is try('d1', '2027-01-11T07:00:00Z', '2027-01-11T08:00:00Z')->{status}, 201,
    'Monday 2027-01-11 08:00-09:00 Paris (07:00Z, winter): 201';
is try('d1', '2027-06-14T06:00:00Z', '2027-06-14T07:00:00Z')->{status}, 201,
    'Monday 2027-06-14 08:00-09:00 Paris (06:00Z, summer): 201';
is try('d1', '2027-06-14T15:30:00Z', '2027-06-14T16:00:00Z')->{status}, 201,
    '... and 17:30-18:00, the last half hour of the afternoon';
BookingTest::error_is(try('d1', '2027-06-14T05:30:00Z', '2027-06-14T06:30:00Z'), 422, 'invalid',
                      field => 'start', name => '07:30 Paris in June, before opening');
BookingTest::error_is(try('d1', '2027-01-11T06:30:00Z', '2027-01-11T07:30:00Z'), 422, 'invalid',
                      field => 'start', name => '07:30 Paris in January, before opening');
BookingTest::error_is(try('d1', '2027-01-11T10:30:00Z', '2027-01-11T11:30:00Z'), 422, 'invalid',
                      field => 'end', name => '11:30-12:30 Paris: across noon');
BookingTest::error_is(try('d1', '2027-01-11T11:00:00Z', '2027-01-11T11:30:00Z'), 422, 'invalid',
                      field => 'start', name => '12:00 Paris: closed at noon');
BookingTest::error_is(try('d1', '2027-01-11T07:00:00Z', '2027-01-11T14:00:00Z'), 422, 'invalid',
                      field => 'end', name => 'the morning into the afternoon: not one interval');
BookingTest::error_is(try('d1', '2027-01-18T07:00:00Z', '2027-01-18T08:00:00Z'), 422, 'invalid',
                      field => 'start', name => 'Monday 2027-01-18: a closed date');
BookingTest::error_is(try('d1', '2027-01-12T07:00:00Z', '2027-01-12T08:00:00Z'), 422, 'invalid',
                      field => 'start', name => 'a Tuesday: no hours, closed');
is try('d1', '2027-01-12T20:00:00Z', '2027-01-12T21:00:00Z', admin => 1, body => { kind => 'block' })
    ->{status}, 201, "an admin's block is not held to the hours";

# availability: closed time as runs of 0 units, "closed":true, on the
# Paris clock; ann's 08:00-09:00 takes one of the 5 desks
{
    my $a = $t->req(GET => '/api/resources/d1/availability?from=2027-01-11T00:00:00Z&to=2027-01-12T00:00:00Z');
    is $a->{status}, 200, 'availability of Monday 2027-01-11';
    is_deeply [ map { join ' ', $_->{start}, $_->{end}, $_->{units}, $_->{closed} ? 'closed' : 'open' }
                @{ $a->{json}{free} } ],
              [ '2027-01-11T00:00:00Z 2027-01-11T07:00:00Z 0 closed',
                '2027-01-11T07:00:00Z 2027-01-11T08:00:00Z 4 open',
                '2027-01-11T08:00:00Z 2027-01-11T11:00:00Z 5 open',
                '2027-01-11T11:00:00Z 2027-01-11T13:00:00Z 0 closed',
                '2027-01-11T13:00:00Z 2027-01-11T17:00:00Z 5 open',
                '2027-01-11T17:00:00Z 2027-01-12T00:00:00Z 0 closed' ],
              '... closed before 08:00, from noon to 14:00 and after 18:00 Paris, open between'
        or diag $a->{body};
    my $c = $t->req(GET => '/api/resources/d1/availability?from=2027-01-17T00:00:00Z&to=2027-01-20T00:00:00Z');
    is_deeply [ map { [ $_->{start}, $_->{end}, $_->{closed} ? 1 : 0 ] } @{ $c->{json}{free} } ],
              [ [ '2027-01-17T00:00:00Z', '2027-01-20T00:00:00Z', 1 ] ],
              'Sunday to Tuesday around the closed Monday 2027-01-18: one closed run'
        or diag $c->{body};
    my $s = $t->req(GET => '/api/resources/d1/availability?from=2027-06-14T00:00:00Z&to=2027-06-14T08:00:00Z');
    is $s->{json}{free}[1]{start}, '2027-06-14T06:00:00Z', 'in June the desks open at 06:00Z (08:00 Paris)'
        or diag $s->{body};
}

# a type with no tz: the hours are UTC's
is $t->req(PUT => '/admin/resources/h1', body => { type => 'hall', hours => { mon => [ '08:00-12:00' ] } })
    ->{status}, 201, 'PUT a hall (no tz) with hours';
is try('h1', '2027-01-11T08:00:00Z', '2027-01-11T09:00:00Z')->{status}, 201, 'Monday 08:00Z: 201';
BookingTest::error_is(try('h1', '2027-01-11T07:00:00Z', '2027-01-11T08:00:00Z'), 422, 'invalid',
                      field => 'start', name => 'Monday 07:00Z: before opening');

# what PUT refuses
for my $case ([ 'hours off the slot', 'desk', { mon => [ '08:15-12:00' ] } ],
              [ 'an hour that does not exist', 'desk', { mon => [ '08:00-25:00' ] } ],
              [ 'intervals that overlap', 'desk', { mon => [ '08:00-12:00', '11:00-13:00' ] } ],
              [ 'a day that does not exist', 'desk', { mun => [ '08:00-12:00' ] } ],
              [ 'a closed date that does not exist', 'desk', { closed => [ '2027-02-30' ] }, 'hours.closed' ],
              [ 'hours of a timeless type', 'gift', { mon => [ '08:00-12:00' ] } ]) {
    my ($name, $type, $hours, $field) = @$case;
    BookingTest::error_is($t->req(PUT => '/admin/resources/d9', body => { type => $type, hours => $hours }),
                          422, 'invalid', field => $field // 'hours', name => "PUT with $name");
}

# a PUT without hours: open again
is $t->req(PUT => '/admin/resources/d1', body => { type => 'desk', capacity => 5 })->{status}, 200,
    'PUT d1 again without hours';
is try('d1', '2027-01-12T07:00:00Z', '2027-01-12T08:00:00Z')->{status}, 201,
    '... the Tuesday is bookable again';

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

my $r = BookingTest->nginx_t(http => "booking_type desk slot=30m tz=Mars/Olympus;\n"
                                     . "booking_redis 127.0.0.1:6379;",
                             server => "location /api/ { booking_api; }\n");
ok !$r->ok, 'nginx -t refuses a tz that does not exist';
like $r->out, qr/type "desk": .*Mars\/Olympus/, '... naming the type and the zone';

done_testing;
