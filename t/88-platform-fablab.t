# Platform: a fablab's machine booking (SPEC §5 groups and quotas, §6
# opening hours).  The laser cutter may be booked only by members trained
# on it (the resource's "groups": laser-trained), only while the lab is
# open (its "hours", on the Paris wall clock of type machine, tz=Europe/
# Paris: Tuesday to Saturday 10:00-13:00 and 14:00-19:00, closed on a
# holiday), and each member gets at most 4 hours of machine time a month
# (booking_quota machine_hours hours=4 per=month types=machine, Paris
# months).  The members' portal signs members in and passes who they are
# and their groups to nginx (X-User-Id, X-User-Groups).
#
# What members and the lab's staff see, checked at each step:
# - a member not trained on the laser is 403, a caller with no user 401;
#   a trained member books 10:00-12:00 on a Tuesday (Paris): 201;
# - before opening, across the lunch break, on a Monday and on the
#   holiday: 422 naming start or end; the staff's maintenance block on a
#   Monday is allowed (blocks are not held to hours), a whole-day one too
#   (blocks skip max);
# - availability of that Tuesday on the Paris clock: closed runs with
#   "closed":true and 0 units, the booked run 0, open runs 1;
# - the quota: 2 h + 2 h in a month, then 30 min more is 429 quota naming
#   machine_hours and the month's start (Paris midnight, in UTC); another
#   member has their own 4 hours; the next month is a new period;
# - the search page (GET /resources?type=machine&from=&to=): the laser
#   drops out while booked, stays when free; the printer stays;
# - the laser's calendar feed: Busy for members' bookings, Blocked for the
#   maintenance, UTC date-times, no member id.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use POSIX ();
use Time::Local qw(timegm);
use BookingTest;
use BookingPlatform qw(ics_events);
use BookingRace qw(:all);

BookingRace::pin_module();

my $t = BookingTest->new(workers => 2, http => <<'EOT');
booking_type machine slot=30m hold=10m max=4h tz=Europe/Paris;
booking_user $http_x_user_id;
booking_user_groups $http_x_user_groups;
booking_quota machine_hours hours=4 per=month types=machine tz=Europe/Paris;
EOT

sub error_is { local $Test::Builder::Level = $Test::Builder::Level + 1; BookingTest::error_is(@_) }

sub runs {
    my ($res, $from, $to) = @_;
    my $r = $t->req(GET => "/api/resources/$res/availability?from=" . iso($from) . '&to=' . iso($to));
    return [ "status $r->{status}: $r->{body}" ] unless $r->{status} == 200;
    return [ map { "$_->{start} $_->{end} $_->{units}" . ($_->{closed} ? ' closed' : '') } @{ $r->{json}{free} } ];
}

sub search {
    my ($type, $from, $to, %q) = @_;
    my $qs = join '', map { "&$_=$q{$_}" } sort keys %q;
    my $r = $t->req(GET => "/api/resources?type=$type&from=" . iso($from) . '&to=' . iso($to) . $qs);
    return { error => "$r->{status} $r->{body}" } unless $r->{status} == 200;
    return { map { $_->{id} => $_->{free} } @{ $r->{json}{items} } };
}

sub compact { (my $s = $_[0]) =~ tr/-://d; return $s }

# Paris wall clock -> epoch
sub paris {
    my ($y, $m, $d, $h, $mi) = @_;
    my $old = $ENV{TZ};
    $ENV{TZ} = 'Europe/Paris';
    POSIX::tzset();
    my $e = POSIX::mktime(0, $mi // 0, $h, $d, $m - 1, $y - 1900, 0, 0, -1);
    if (defined $old) { $ENV{TZ} = $old } else { delete $ENV{TZ} }
    POSIX::tzset();
    return $e;
}

# the first day of month ($y, $m) that is weekday $wday (0 Sunday .. 6 Saturday), plus $n weeks
sub nth_wday {
    my ($y, $m, $wday, $n) = @_;
    my $d = 1;
    $d++ while (gmtime timegm(0, 0, 12, $d, $m - 1, $y))[6] != $wday;
    return $d + 7 * ($n // 0);
}

my $now = redis_now($t);
my @g = gmtime $now;
my ($Y, $M) = ($g[5] + 1900, $g[4] + 1 + 2);    # the month after next: every day of it is ahead
($Y, $M) = ($Y + 1, $M - 12) if $M > 12;
my ($Y2, $M2) = $M == 12 ? ($Y + 1, 1) : ($Y, $M + 1);

my $TUE  = nth_wday($Y, $M, 2);        # the first Tuesday: open
my $WED  = nth_wday($Y, $M, 3);        # the first Wednesday: the holiday
my $THU  = nth_wday($Y, $M, 4);
my $FRI  = nth_wday($Y, $M, 5);
my $MON  = nth_wday($Y, $M, 1, 1);     # a Monday: closed
my $TUE2 = nth_wday($Y2, $M2, 2);      # a Tuesday of the next month
my $P = sub { my ($d, $h, $mi, %o) = @_; paris($o{y} // $Y, $o{m} // $M, $d, $h, $mi) };
my $holiday = sprintf '%04d-%02d-%02d', $Y, $M, $WED;

my %HOURS = (map({ $_ => [ '10:00-13:00', '14:00-19:00' ] } qw(tue wed thu fri sat)), closed => [ $holiday ]);
is $t->req(PUT => '/admin/resources/laser', body => { type => 'machine', capacity => 1, owner => 'staff-nora',
    title => 'Laser cutter 60 W', groups => [ 'laser-trained' ], hours => \%HOURS })->{status}, 201,
    'the lab lists its laser cutter: trained members only, opening hours';
is $t->req(PUT => '/admin/resources/printer', body => { type => 'machine', capacity => 2, owner => 'staff-nora',
    title => '3D printers', groups => [ 'members' ], hours => \%HOURS })->{status}, 201, '... and two 3D printers for members';

my $ANA = { 'X-User-Id' => 'maker-ana', 'X-User-Groups' => 'members, laser-trained' };
my $BOB = { 'X-User-Id' => 'maker-bob', 'X-User-Groups' => 'members' };
my $CY  = { 'X-User-Id' => 'maker-cy',  'X-User-Groups' => 'laser-trained' };
sub use_machine {
    my ($who, $from, $to, %o) = @_;
    return $t->req(POST => ($o{prefix} // '/api/') . 'bookings', headers => $who,
                   body => { resource => $o{res} // 'laser', start => iso($from), end => iso($to), %{ $o{body} || {} } });
}

my ($day0, $day1) = ($P->($TUE, 0), $P->($TUE + 1, 0));
my $r = sub { my ($a, $b, $u, $c) = @_; join ' ', iso($a), iso($b), $u, $c ? ('closed') : () };
is_deeply runs('laser', $day0, $day1),
    [ $r->($day0, $P->($TUE, 10), 0, 1), $r->($P->($TUE, 10), $P->($TUE, 13), 1), $r->($P->($TUE, 13), $P->($TUE, 14), 0, 1),
      $r->($P->($TUE, 14), $P->($TUE, 19), 1), $r->($P->($TUE, 19), $day1, 0, 1) ],
    'before: the Tuesday on the Paris clock: closed, 10-13 open, lunch closed, 14-19 open, closed';
is_deeply search('machine', $P->($TUE, 10), $P->($TUE, 12)), { laser => 1, printer => 2 }, 'before: both machines listed for 10:00-12:00';

# ------------------------------------------------------------ who may use the laser

error_is(use_machine($BOB, $P->($TUE, 10), $P->($TUE, 12)), 403, 'forbidden', name => 'bob, a member not trained on the laser: 403');
error_is(use_machine({ 'X-User-Id' => 'maker-dan' }, $P->($TUE, 10), $P->($TUE, 12)), 403, 'forbidden', name => 'a member with no groups: 403');
error_is(use_machine({ 'X-User-Groups' => 'laser-trained' }, $P->($TUE, 10), $P->($TUE, 12)), 401, 'unauthenticated',
         name => 'no user: 401');
is use_machine($BOB, $P->($TUE, 10), $P->($TUE, 12), res => 'printer')->{status}, 201, 'bob may use a 3D printer';
my $a1 = use_machine($ANA, $P->($TUE, 10), $P->($TUE, 12));
is $a1->{status}, 201, 'ana, trained, books the laser Tuesday 10:00-12:00 Paris' or diag $a1->{body};
is "$a1->{json}{start} $a1->{json}{end}", iso($P->($TUE, 10)) . ' ' . iso($P->($TUE, 12)), '... answered in UTC';

# ------------------------------------------------------------ opening hours

error_is(use_machine($CY, $P->($TUE, 9), $P->($TUE, 10)), 422, 'invalid', field => 'start', name => '09:00, before opening: 422');
error_is(use_machine($CY, $P->($TUE, 12), $P->($TUE, 14)), 422, 'invalid', field => 'end', name => 'over the lunch break: 422');
error_is(use_machine($CY, $P->($TUE, 18, 30), $P->($TUE, 19, 30)), 422, 'invalid', field => 'end', name => 'past closing: 422');
error_is(use_machine($CY, $P->($MON, 10), $P->($MON, 11)), 422, 'invalid', field => 'start', name => 'a Monday: 422');
error_is(use_machine($CY, $P->($WED, 10), $P->($WED, 11)), 422, 'invalid', field => 'start', name => "the holiday $holiday: 422");
my $STAFF = { 'X-User-Id' => 'staff-nora' };
my $blk = use_machine($STAFF, $P->($MON, 9), $P->($MON, 13), body => { kind => 'block', note => 'lens cleaning' });
is "$blk->{status} " . ($blk->{json}{kind} // ''), '201 block', "the staff's maintenance block, Monday 09:00-13:00: 201"
    or diag $blk->{body};
{
    # README "Bookings" and "Choices": a block is "not held to min, max,
    # lead and horizon"
    my $day = use_machine($STAFF, $P->($MON + 7, 8), $P->($MON + 7, 18), body => { kind => 'block', note => 'yearly service' });
    is "$day->{status} " . ($day->{json}{kind} // ''), '201 block', "a whole-day maintenance block (10 h, over max=4h): 201"
        or diag $day->{body};
    act($t, 'staff-nora', $day->{json}{id}, 'cancel') if $day->{status} == 201;
}

is_deeply runs('laser', $day0, $day1),
    [ $r->($day0, $P->($TUE, 10), 0, 1), $r->($P->($TUE, 10), $P->($TUE, 12), 0), $r->($P->($TUE, 12), $P->($TUE, 13), 1),
      $r->($P->($TUE, 13), $P->($TUE, 14), 0, 1), $r->($P->($TUE, 14), $P->($TUE, 19), 1), $r->($P->($TUE, 19), $day1, 0, 1) ],
    "availability: ana's 10:00-12:00 is 0 (not closed), 12:00-13:00 open";
is_deeply search('machine', $P->($TUE, 10), $P->($TUE, 12)), { printer => 1 }, 'search 10:00-12:00: the laser is gone, 1 printer left';
is_deeply search('machine', $P->($TUE, 12), $P->($TUE, 13)), { laser => 1, printer => 2 }, 'search 12:00-13:00: the laser is back';
is_deeply search('machine', $P->($MON, 10), $P->($MON, 11)), {},
    'search a Monday (closed): no machine is offered (availability shows 0 units there)';

# ------------------------------------------------------------ the monthly quota

my $month = $P->(1, 0);
my $a2 = use_machine($ANA, $P->($THU, 14), $P->($THU, 16));
is $a2->{status}, 201, 'ana books Thursday 14:00-16:00: 4 hours this month' or diag $a2->{body};
my $q = use_machine($ANA, $P->($FRI, 10), $P->($FRI, 10, 30));
error_is($q, 429, 'quota', name => 'ana, 30 minutes more that month: 429');
is $q->{json}{error}{quota}, 'machine_hours', '... naming the quota machine_hours';
is $q->{json}{error}{period_start}, iso($month), '... and the month, from 1st 00:00 Paris (' . iso($month) . ')';
is use_machine($ANA, $P->($FRI, 10), $P->($FRI, 10, 30), res => 'printer')->{status}, 429,
    '... the printers are machines too: 429';
my $c1 = use_machine($CY, $P->($FRI, 10), $P->($FRI, 14, 0) - 3600);
is $c1->{status}, 201, 'cy has hours of his own: Friday 10:00-13:00' or diag $c1->{body};
is use_machine($ANA, $P->($TUE2, 10, 0, y => $Y2, m => $M2), $P->($TUE2, 11, 0, y => $Y2, m => $M2))->{status}, 201,
    'ana in the next month: a new period, 201';
is act($t, 'maker-ana', $a2->{json}{id}, 'cancel')->{status}, 200, 'ana cancels Thursday';
is use_machine($ANA, $P->($FRI, 14), $P->($FRI, 15))->{status}, 201, '... and may book an hour on Friday instead';

# ------------------------------------------------------------ the calendar feed

my $cal = ics_events($t, 'laser');
is "$cal->{status} $cal->{type}", '200 text/calendar; charset=utf-8', "the laser's calendar feed";
is_deeply [ sort map { "$_->{DTSTART} $_->{DTEND} $_->{SUMMARY}" } @{ $cal->{events} } ],
    [ sort map { compact(iso($_->[0])) . ' ' . compact(iso($_->[1])) . " $_->[2]" }
      [ $P->($TUE, 10), $P->($TUE, 12), 'Busy' ], [ $P->($MON, 9), $P->($MON, 13), 'Blocked' ],
      [ $P->($FRI, 10), $P->($FRI, 13), 'Busy' ], [ $P->($FRI, 14), $P->($FRI, 15), 'Busy' ],
      [ $P->($TUE2, 10, 0, y => $Y2, m => $M2), $P->($TUE2, 11, 0, y => $Y2, m => $M2), 'Busy' ] ],
    '... the members\' bookings Busy, the maintenance Blocked, the cancelled one gone, UTC times';
unlike $cal->{body}, qr/maker-|staff-nora|lens cleaning/, '... no member id, no note';

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;
