# A series counts every occurrence against max_active and booking_quota
# (SPEC §6, issue 17 item 2; README, "Series"): every occurrence is one
# claim in the user's hash slot, all of a series' claims are made in one
# step or none, before the series is booked.
#
# - max_active=3: a weekly series of 2 leaves room for one booking, not for
#   another series of 2 (429 quota); other users, admin locations and
#   blocks are not counted; cancelling the series gives both places back;
# - the claims of a series that was not made (409, all or nothing) and of
#   the occurrences skip_conflicts skipped are given back at once: the
#   user may book those places again within the minute a claim of nothing
#   would otherwise count;
# - count=4 per month: a weekly series of 5 in one month is 429 naming the
#   month; one of 4 is not; a series across two months counts in each; a
#   group of 5 items in one month is 429 too;
# - hours=3 per week in Europe/Paris: four daily hours in one week are 429
#   naming Monday 00:00 Paris; a series across two weeks counts in each;
# - an Idempotency-Key's retry of a series made is its replay, not a 429;
# - one user sends 8 series of 2 at once against max_active=3: exactly one
#   is made, 3 times.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use BookingTest;
use BookingRace ();

BookingRace::pin_module();

my $t = BookingTest->new(workers => 4, http => <<'EOT');
booking_type flat slot=1d hold=5m max_active=3;
booking_type bench slot=1h hold=5m;
booking_type pickup slot=1h hold=5m tz=Europe/Paris;
booking_quota monthly count=4 per=month types=bench;
booking_quota weekly hours=3 per=week types=pickup tz=Europe/Paris;
booking_user $http_x_user_id;
EOT

for my $r ((map { [ "flat$_", 'flat' ] } 1 .. 12), (map { [ "race$_", 'flat' ] } 1 .. 8),
           (map { [ "bench$_", 'bench' ] } 1 .. 3), [ 'farm', 'pickup' ]) {
    my $res = $t->req(PUT => "/admin/resources/$r->[0]", body => { type => $r->[1], capacity => 1, owner => 'host' });
    $res->{status} == 201 or BAIL_OUT("PUT $r->[0]: $res->{status}");
}

sub book {
    my (%body) = @_;
    my $who = delete $body{who};
    my $prefix = delete $body{prefix} // '/api/';
    my $h = delete $body{headers} // {};
    return $t->req(POST => "${prefix}bookings", body => \%body,
                   headers => { (defined $who ? ('X-User-Id' => $who) : ()), %$h });
}

sub weekly {
    my ($who, $rid, $start, $end, $count, %more) = @_;
    return book(who => $who, resource => $rid, start => $start, end => $end,
                repeat => { freq => 'weekly', count => $count }, %more);
}

sub quota_is {
    my ($r, $quota, $period, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    BookingTest::error_is($r, 429, 'quota', name => "$name: 429 quota");
    is $r->{json}{error}{quota}, $quota, "$name: names the quota $quota" if defined $quota;
    is $r->{json}{error}{period_start}, $period, "$name: and the period $period" if defined $period;
}

sub n_made { scalar @{ $_[0]{json}{bookings} || [] } }

# ---------------------------------------------------------------- max_active

my $s1 = weekly('ann', 'flat1', '2028-02-01', '2028-02-02', 2);
is $s1->{status}, 201, 'max_active=3: ann books a weekly series of 2' or diag $s1->{body};
is n_made($s1), 2, '... two bookings';
quota_is(weekly('ann', 'flat2', '2028-02-01', '2028-02-02', 2), undef, undef,
         'another series of 2 would make 4');
is book(who => 'ann', resource => 'flat3', start => '2028-03-01', end => '2028-03-02')->{status}, 201,
    'one booking more is the third';
quota_is(book(who => 'ann', resource => 'flat4', start => '2028-03-01', end => '2028-03-02'), undef, undef,
         'a fourth');
is weekly('bob', 'flat2', '2028-02-01', '2028-02-02', 3)->{status}, 201, 'bob has his own three: a series of 3';
is weekly('ann', 'flat5', '2028-02-01', '2028-02-02', 3, prefix => '/admin/')->{status}, 201,
    "an admin location's series for ann is not counted";
is weekly(undef, 'flat6', '2028-05-01', '2028-05-02', 2, prefix => '/admin/', kind => 'block')->{status}, 201,
    'nor a series of blocks';
quota_is(book(who => 'ann', resource => 'flat4', start => '2028-03-01', end => '2028-03-02'), undef, undef,
         'ann still has her three');

my $c = $t->req(POST => "/api/groups/$s1->{json}{group}/cancel", headers => { 'X-User-Id' => 'ann' });
is $c->{status}, 200, 'ann cancels her series' or diag $c->{body};
is weekly('ann', 'flat4', '2028-02-01', '2028-02-02', 2)->{status}, 201,
    'and may book a series of 2 again';
quota_is(book(who => 'ann', resource => 'flat7', start => '2028-03-01', end => '2028-03-02'), undef, undef,
         'but nothing more');

# carl: May 1 and 8 are blocked on flat6
my $skip = weekly('carl', 'flat6', '2028-05-01', '2028-05-02', 3, skip_conflicts => JSON::PP::true);
is $skip->{status}, 201, 'skip_conflicts: carl books what is free of a series of 3' or diag $skip->{body};
is n_made($skip), 1, '... one booking made (the other two weeks are blocked)';
is scalar @{ $skip->{json}{skipped} || [] }, 2, '... two skipped';
is book(who => 'carl', resource => 'flat7', start => '2028-06-01', end => '2028-06-02')->{status}, 201,
    "the skipped occurrences' claims were given back: carl books a second";
is book(who => 'carl', resource => 'flat8', start => '2028-06-01', end => '2028-06-02')->{status}, 201,
    '... and a third';
quota_is(book(who => 'carl', resource => 'flat9', start => '2028-06-01', end => '2028-06-02'), undef, undef,
         'carl: a fourth');

BookingTest::error_is(weekly('dave', 'flat6', '2028-05-01', '2028-05-02', 3), 409, 'unavailable',
                      name => 'all or nothing: dave cannot have the blocked weeks');
is weekly('dave', 'flat10', '2028-05-01', '2028-05-02', 3)->{status}, 201,
    "the refused series' claims were given back: dave books a series of 3 elsewhere";

# ---------------------------------------------------------------- count per month

quota_is(weekly('ann', 'bench1', '2028-03-01T10:00:00Z', '2028-03-01T11:00:00Z', 5),
         'monthly', '2028-03-01T00:00:00Z', 'count=4 a month: 5 Wednesdays of March');
is weekly('ann', 'bench1', '2028-03-01T10:00:00Z', '2028-03-01T11:00:00Z', 4)->{status}, 201,
    '4 Wednesdays of March: 201';
quota_is(book(who => 'ann', resource => 'bench2', start => '2028-03-30T10:00:00Z', end => '2028-03-30T11:00:00Z'),
         'monthly', '2028-03-01T00:00:00Z', 'one more in March');
is book(who => 'ann', resource => 'bench2', start => '2028-04-03T10:00:00Z', end => '2028-04-03T11:00:00Z')->{status},
    201, 'one in April';
my $across = weekly('ann', 'bench3', '2028-04-19T10:00:00Z', '2028-04-19T11:00:00Z', 3);
is $across->{status}, 201, 'a series of April 19, 26 and May 3: 3 in April, 1 in May' or diag $across->{body};
quota_is(weekly('ann', 'bench2', '2028-04-10T10:00:00Z', '2028-04-10T11:00:00Z', 2),
         'monthly', '2028-04-01T00:00:00Z', 'two more in April');
is weekly('ann', 'bench2', '2028-05-10T10:00:00Z', '2028-05-10T11:00:00Z', 3)->{status}, 201,
    'three more in May make its four';
is weekly('bob', 'bench2', '2028-03-08T11:00:00Z', '2028-03-08T12:00:00Z', 4)->{status}, 201,
    'bob has his own four in March';

# a group of items: every item counts, each in its own month
my @june = map { { resource => 'bench1', start => "2028-06-0${_}T10:00:00Z", end => "2028-06-0${_}T11:00:00Z" } } 1 .. 5;
quota_is(book(who => 'ann', items => \@june), 'monthly', '2028-06-01T00:00:00Z',
         'count=4 a month: a group of 5 items of June');
is book(who => 'ann', items => [ @june[0 .. 3] ])->{status}, 201, 'a group of 4: 201';
quota_is(book(who => 'ann', resource => 'bench1', start => '2028-06-09T10:00:00Z', end => '2028-06-09T11:00:00Z'),
         'monthly', '2028-06-01T00:00:00Z', 'one more in June');

# ---------------------------------------------------------------- hours per week, Paris

# Monday 2028-01-10 00:00 in Paris is 2028-01-09T23:00:00Z
my $daily4 = book(who => 'ann', resource => 'farm', start => '2028-01-10T17:00:00Z', end => '2028-01-10T18:00:00Z',
                  repeat => { freq => 'daily', count => 4 });
quota_is($daily4, 'weekly', '2028-01-09T23:00:00Z', 'hours=3 a week: four daily hours from a Monday');
is book(who => 'ann', resource => 'farm', start => '2028-01-10T17:00:00Z', end => '2028-01-10T18:00:00Z',
        repeat => { freq => 'daily', count => 3 })->{status}, 201, 'three: 201';
is book(who => 'ann', resource => 'farm', start => '2028-01-22T17:00:00Z', end => '2028-01-22T18:00:00Z',
        repeat => { freq => 'daily', count => 4 })->{status}, 201,
    'Saturday to Tuesday: two hours in each week';
quota_is(book(who => 'ann', resource => 'farm', start => '2028-01-26T17:00:00Z', end => '2028-01-26T19:00:00Z',
              repeat => { freq => 'daily', count => 1 }),
         'weekly', '2028-01-23T23:00:00Z', 'two hours more in the second week');

# ---------------------------------------------------------------- Idempotency-Key

my %key = (headers => { 'Idempotency-Key' => 'eve-series-1' });
my $e1 = weekly('eve', 'flat11', '2028-02-01', '2028-02-02', 3, %key);
is $e1->{status}, 201, 'eve books a series of 3 with an Idempotency-Key';
my $e2 = weekly('eve', 'flat11', '2028-02-01', '2028-02-02', 3, %key);
is $e2->{status}, 201, 'its retry: 201, though eve has no place left' or diag $e2->{body};
is $e2->{json}{group}, $e1->{json}{group}, '... the same group, replayed';
quota_is(book(who => 'eve', resource => 'flat12', start => '2028-03-01', end => '2028-03-02'), undef, undef,
         'eve has her three');

# ---------------------------------------------------------------- racing

my $exact = 0;
my %all;
for my $round (1 .. 3) {
    my @kids;
    for my $i (1 .. 8) {
        my $start = sprintf '2029-%02d-%02d', $round, $i;
        my $end = sprintf '2029-%02d-%02d', $round, $i + 1;
        push @kids, BookingTest::bg(sub { weekly("racer$round", "race$i", $start, $end, 2)->{status} });
    }
    my %st;
    $st{ $_->result(60) // 'none' }++ for @kids;
    $all{$_} += $st{$_} for keys %st;
    $exact++ if ($st{201} // 0) == 1 && ($st{429} // 0) == 7;
}
is $exact, 3, '3 times, one user sends 8 series of 2 at once against max_active=3: exactly one is made ('
    . join(', ', map { "$_ x$all{$_}" } sort keys %all) . ')';

is_deeply [ $t->check_error_log ], [], 'no alert, crash or crit in the error log';

done_testing;
