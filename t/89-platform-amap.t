# Platform: an AMAP (a community-supported farm), where each member picks
# up a basket every Thursday 18:00-19:00 at the farm, Paris time, for a
# season (SPEC §6 "Recurring bookings").  The pickup is a resource of
# capacity 30 baskets, open Thursday 17:30-19:30, closed on Ascension
# Thursday; a member books the season as one weekly series.
#
# What members and the farm see, checked at each step:
# - the season as one series, until the last Thursday: 18:00 Paris is
#   17:00Z in winter and 16:00Z in summer; with skip_conflicts the
#   holiday is skipped and named, without it the season is 422 naming it;
# - availability of a Thursday before and after: 30, then 28 (two
#   members), the holiday closed;
# - the listing for a Thursday's pickup hour counts the baskets left, and
#   leaves the farm out on the holiday;
# - the farm's calendar feed has one event per pickup, at 18:00 Paris;
# - a member who leaves cancels the series: the pickups to come are
#   freed (those that passed would stay: t/44); a stranger cannot see it.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use BookingTest;

my $t = BookingTest->new(workers => 2, http => <<'EOT');
booking_type pickup slot=30m hold=10m tz=Europe/Paris repeat_max=40;
booking_user $http_x_user_id;
EOT

my $TRUE = JSON::PP::true;

sub error_is { local $Test::Builder::Level = $Test::Builder::Level + 1; BookingTest::error_is(@_) }

is $t->req(PUT => '/admin/resources/farm', body => { type => 'pickup', capacity => 30, owner => 'farmer-jo',
    title => 'Baskets at the farm', hours => { thu => [ '17:30-19:30' ], closed => [ '2027-05-06' ] } })->{status},
    201, 'the farm opens its pickup: 30 baskets, Thursdays 17:30-19:30 Paris, closed on 2027-05-06';

sub season {
    my ($who, %o) = @_;
    return $t->req(POST => '/api/bookings', headers => { 'X-User-Id' => $who },
                   body => { resource => 'farm', start => '2027-03-04T17:00:00Z', end => '2027-03-04T18:00:00Z',
                             repeat => { freq => 'weekly', until => '2027-06-24' }, %o });
}

sub free {
    my ($from, $to) = @_;
    my $r = $t->req(GET => "/api/resources/farm/availability?from=$from&to=$to");
    return [ map { join ' ', $_->{start}, $_->{units}, $_->{closed} ? 'closed' : () } @{ $r->{json}{free} || [] } ];
}

sub listing {
    my ($from, $to) = @_;
    my $r = $t->req(GET => "/api/resources?type=pickup&from=$from&to=$to");
    return { map { $_->{id} => $_->{free} } @{ $r->{json}{items} || [] } };
}

is_deeply free('2027-03-11T17:00:00Z', '2027-03-11T18:00:00Z'), [ '2027-03-11T17:00:00Z 30' ],
    'before: 30 baskets on Thursday 2027-03-11 18:00-19:00 Paris';
is_deeply listing('2027-03-11T17:00:00Z', '2027-03-11T18:00:00Z'), { farm => 30 }, 'the listing offers 30';

my $all = season('member-ana');
error_is($all, 422, 'invalid', field => 'start', name => 'the whole season without skip_conflicts: 422 (the holiday)');
is_deeply [ map { $_->{start} } @{ $all->{json}{error}{conflicts} || [] } ], [ '2027-05-06T16:00:00Z' ],
    '... naming the holiday, 18:00 Paris in summer';

my $ana = season('member-ana', skip_conflicts => $TRUE);
is $ana->{status}, 201, 'ana books the season, skipping the holiday: 201' or diag $ana->{body};
my @b = @{ $ana->{json}{bookings} || [] };
is scalar(@b), 16, '... 16 Thursdays from 2027-03-04 to 2027-06-24, less the holiday';
is $b[0]{start}, '2027-03-04T17:00:00Z', '... the first at 17:00Z (winter)';
is $b[-1]{start}, '2027-06-24T16:00:00Z', '... the last on 2027-06-24 at 16:00Z (summer): until is inclusive';
is scalar(grep { $_->{start} =~ /T17:00:00Z$/ } @b), 4, '... four before the change to summer time';
is_deeply [ map { $_->{start} } @{ $ana->{json}{skipped} } ], [ '2027-05-06T16:00:00Z' ], '... the holiday skipped';
is season('member-ben', skip_conflicts => $TRUE)->{status}, 201, 'ben books the season too';

is_deeply free('2027-03-11T16:30:00Z', '2027-03-11T18:30:00Z'),
    [ '2027-03-11T16:30:00Z 30', '2027-03-11T17:00:00Z 28', '2027-03-11T18:00:00Z 30' ],
    'after: 28 baskets left at the pickup hour, 30 around it';
is_deeply free('2027-05-06T16:00:00Z', '2027-05-06T17:00:00Z'), [ '2027-05-06T16:00:00Z 0 closed' ],
    'the holiday shows closed';
is_deeply listing('2027-04-01T16:00:00Z', '2027-04-01T17:00:00Z'), { farm => 28 },
    'the listing of Thursday 2027-04-01 (summer) counts 28 left';
is_deeply listing('2027-05-06T16:00:00Z', '2027-05-06T17:00:00Z'), {}, '... and leaves the farm out on the holiday';

my $ics = $t->req(GET => '/api/resources/farm/calendar.ics')->{body} // '';
my @starts = $ics =~ /^DTSTART:(\S+)\r$/mg;
is scalar(@starts), 32, 'the farm\'s feed has one event per pickup (2 members x 16)';
is scalar(grep { $_ eq '20270311T170000Z' } @starts), 2, '... two on 2027-03-11 at 17:00Z';
is scalar(grep { $_ eq '20270617T160000Z' } @starts), 2, '... two on 2027-06-17 at 16:00Z';

error_is($t->req(GET => "/api/groups/$ana->{json}{group}", headers => { 'X-User-Id' => 'member-cy' }), 404,
         'not_found', name => 'another member cannot see ana\'s series');
my $leave = $t->req(POST => "/api/groups/$ana->{json}{group}/cancel", headers => { 'X-User-Id' => 'member-ana' });
is $leave->{status}, 200, 'ana leaves: her series is cancelled';
is scalar(grep { $_->{status} eq 'cancelled' } @{ $leave->{json}{bookings} }), 16, '... every pickup to come';
is_deeply free('2027-03-11T17:00:00Z', '2027-03-11T18:00:00Z'), [ '2027-03-11T17:00:00Z 29' ], '... 29 baskets left';
is $t->req(GET => "/api/groups/$ana->{json}{group}", headers => { 'X-User-Id' => 'farmer-jo' })->{json}{status},
    'cancelled', 'the farmer sees it cancelled';

$t->check_error_log;
done_testing;
