# Platform: a coworking space (SPEC §1, §2, §4).  The space rents a pool of
# 12 identical hot desks by the half hour (type desk, slot=30m): members
# book a desk from the space's page; the pool is one resource of capacity
# 12, so each booking takes one unit of it.
#
# What the members see, checked at each step:
# - 12 members fill the 09:00-09:30 slot; the 13th is 409 unavailable, the
#   conflict naming that slot with 0 free; booking the next half hour
#   instead works; asking for 13 desks at once is 422;
# - availability of the day around it: 12 free before, 0 left in the full
#   slot, the right count in the half hour after, 12 again later;
# - the search page (GET /resources?type=desk&from=&to=&quantity=): the
#   full space drops out for the full slot (and for any range holding it),
#   stays with its fewest free desks where some are left, and another
#   space stays listed;
# - the space's calendar feed: one "Busy" VEVENT per member's booking, as
#   UTC date-times, no member id;
# - a member's cancel gives the desk back at once, and the 13th gets it.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use BookingTest;
use BookingPlatform qw(ics_events);
use BookingRace qw(:all);

BookingRace::pin_module();

my $t = BookingTest->new(workers => 2, http => <<'EOT');
booking_type desk slot=30m hold=5m max=1d;
booking_user $http_x_user_id;
EOT

sub error_is { local $Test::Builder::Level = $Test::Builder::Level + 1; BookingTest::error_is(@_) }

sub runs {
    my ($res, $from, $to) = @_;
    my $r = $t->req(GET => "/api/resources/$res/availability?from=" . iso($from) . '&to=' . iso($to));
    return [ "status $r->{status}: $r->{body}" ] unless $r->{status} == 200;
    return [ map { "$_->{start} $_->{end} $_->{units}" } @{ $r->{json}{free} } ];
}

sub search {
    my ($type, $from, $to, %q) = @_;
    my $qs = join '', map { "&$_=$q{$_}" } sort keys %q;
    my $r = $t->req(GET => "/api/resources?type=$type&from=" . iso($from) . '&to=' . iso($to) . $qs);
    return { error => "$r->{status} $r->{body}" } unless $r->{status} == 200;
    return { map { $_->{id} => $_->{free} } @{ $r->{json}{items} } };
}

sub compact { (my $s = $_[0]) =~ tr/-://d; return $s }

for my $space ([ 'cowork-brest', 'La Cantine, Brest' ], [ 'cowork-quimper', 'Le Hub, Quimper' ]) {
    is $t->req(PUT => "/admin/resources/$space->[0]",
               body => { type => 'desk', capacity => 12, title => $space->[1], owner => 'space-manager' })->{status},
        201, "the platform lists $space->[0]: 12 desks";
}

my $now = redis_now($t);
my $D   = day_start($now, 3);
my $at  = sub { my ($h, $m) = @_; return $D + $h * 3600 + ($m // 0) * 60 };
my ($T8, $T9, $T930, $T10, $T11) = ($at->(8), $at->(9), $at->(9, 30), $at->(10), $at->(11));
my @M = map { sprintf 'member-%02d', $_ } 1 .. 14;

is_deeply runs('cowork-brest', $T8, $T11), [ iso($T8) . ' ' . iso($T11) . ' 12' ], 'before: 12 desks free all morning';
is_deeply search('desk', $T9, $T930), { 'cowork-brest' => 12, 'cowork-quimper' => 12 },
    'before: searching 09:00-09:30 lists both spaces with 12 free';

# 12 members: 6 for 09:00-10:00, 6 for 09:00-09:30
my @ids;
for my $i (0 .. 11) {
    my $r = book($t, $M[$i], { resource => 'cowork-brest', start => iso($T9), end => iso($i < 6 ? $T10 : $T930) });
    push @ids, $r->{status} == 201 ? $r->{json}{id} : "status $r->{status}";
}
is scalar(grep { !/^status/ } @ids), 12, '12 members book a desk at 09:00: 12 x 201' or diag "@ids";

my $late = book($t, $M[12], { resource => 'cowork-brest', start => iso($T9), end => iso($T930) });
error_is($late, 409, 'unavailable', name => 'the 13th member for 09:00-09:30: 409');
is_deeply $late->{json}{error}{conflicts}, [ { start => iso($T9), end => iso($T930), free => 0 } ],
    '... the conflict is 09:00-09:30 with 0 free';
my $late2 = book($t, $M[12], { resource => 'cowork-brest', start => iso($T9), end => iso($T10) });
error_is($late2, 409, 'unavailable', name => 'the 13th member for 09:00-10:00: 409');
is_deeply $late2->{json}{error}{conflicts}, [ { start => iso($T9), end => iso($T930), free => 0 } ],
    '... only the full half hour is a conflict';
error_is(book($t, 'team-lead', { resource => 'cowork-brest', start => iso($T10), end => iso($T11), quantity => 13 }),
         422, 'invalid', field => 'quantity', name => '13 desks at once in a space of 12: 422');

my $next = book($t, $M[12], { resource => 'cowork-brest', start => iso($T930), end => iso($T10) });
is $next->{status}, 201, 'the 13th member takes 09:30-10:00 instead' or diag $next->{body};

is_deeply runs('cowork-brest', $T8, $T11),
    [ iso($T8) . ' ' . iso($T9) . ' 12', iso($T9) . ' ' . iso($T930) . ' 0',
      iso($T930) . ' ' . iso($T10) . ' 5', iso($T10) . ' ' . iso($T11) . ' 12' ],
    'availability: 12 before 09:00, 0 left at 09:00-09:30, 5 at 09:30-10:00, 12 after';

is_deeply search('desk', $T9, $T930), { 'cowork-quimper' => 12 }, 'search 09:00-09:30: the full space is gone';
is_deeply search('desk', $T8, $T10), { 'cowork-quimper' => 12 }, 'search 08:00-10:00 (holds the full slot): gone too';
is_deeply search('desk', $T930, $T10), { 'cowork-brest' => 5, 'cowork-quimper' => 12 },
    'search 09:30-10:00: the space with its 5 free desks';
is_deeply search('desk', $T930, $T10, quantity => 6), { 'cowork-quimper' => 12 },
    'search 09:30-10:00 for a team of 6: only the other space';
is_deeply search('desk', $T10, $T11), { 'cowork-brest' => 12, 'cowork-quimper' => 12 }, 'search 10:00-11:00: both, 12';

my $cal = ics_events($t, 'cowork-brest');
is $cal->{status}, 200, 'calendar feed: 200';
is scalar @{ $cal->{events} }, 13, '... 13 VEVENTs, one per booking';
is scalar(grep { ($_->{SUMMARY} // '') eq 'Busy' } @{ $cal->{events} }), 13, '... all Busy';
is scalar(grep { ($_->{DTSTART} // '') eq compact(iso($T9)) && $_->{'DTSTART;'} eq '' } @{ $cal->{events} }), 12,
    '... 12 start at 09:00, as UTC date-times';
is_deeply [ sort map { $_->{DTEND} } grep { $_->{DTSTART} eq compact(iso($T9)) } @{ $cal->{events} } ],
    [ (compact(iso($T930))) x 6, (compact(iso($T10))) x 6 ], '... 6 end at 09:30 and 6 at 10:00';
unlike $cal->{body}, qr/member-/, '... no member id in the feed';
is scalar @{ ics_events($t, 'cowork-quimper')->{events} }, 0, "the other space's feed is empty";

# a member cancels: the desk is back at once
my $cx = act($t, $M[7], $ids[7], 'cancel');
is "$cx->{status} " . ($cx->{json}{status} // ''), '200 cancelled', 'member-08 cancels 09:00-09:30';
is_deeply runs('cowork-brest', $T9, $T930), [ iso($T9) . ' ' . iso($T930) . ' 1' ], '09:00-09:30 shows 1 free';
is_deeply search('desk', $T9, $T930), { 'cowork-brest' => 1, 'cowork-quimper' => 12 }, 'the space is back in the search, 1 free';
my $got = book($t, $M[13], { resource => 'cowork-brest', start => iso($T9), end => iso($T930) });
is $got->{status}, 201, 'member-14 takes it: 201' or diag $got->{body};
is_deeply runs('cowork-brest', $T9, $T930), [ iso($T9) . ' ' . iso($T930) . ' 0' ], '09:00-09:30 is full again';
error_is(book($t, 'member-15', { resource => 'cowork-brest', start => iso($T9), end => iso($T930) }),
         409, 'unavailable', name => 'and the next one is 409 again');
is scalar @{ ics_events($t, 'cowork-brest')->{events} }, 13, 'the feed: the cancelled one out, the new one in (13)';

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;
