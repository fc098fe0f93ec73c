# booking_quota (SPEC §5, issue 16 item 3): count= and hours= per day, week
# or month of a time zone, scoped by types and by the caller's groups,
# claimed in the user's hash slot a step before the booking (README, "What
# spans resources"), so that no race of one user's requests breaks them.
#
# - count=3 per month on tools and gifts: the fourth tool of a month is
#   429 quota, with the quota's name and the period's start; the next
#   month has its own three; a timeless gift counts in the month it is
#   made; a cancel and an expired hold give their place back; the retry
#   of a booking made, with its Idempotency-Key, is replayed, not 429; admin locations' bookings and
#   blocks are neither counted nor refused; other users have their own;
# - hours=40 per week in Europe/Paris for members on desks: a week of
#   5 x 8 h, then 30 min more is 429 with the week's Monday 00:00 Paris; a
#   booking across Sunday midnight counts its hours in each week (one
#   that would pass 40 in the first week is refused, a shorter one is
#   not); the DST week of March 2027 (167 h) starts at 23:00Z, the one of
#   October (169 h) at 22:00Z; a caller outside the group is not limited;
# - 40 holds of one user sent at once against count=3: exactly 3 are 201
#   and 37 are 429, 3 times;
# - nginx -t refuses a quota without a limit or period, of an unknown
#   type, of a time zone that does not exist, and a duplicate name.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use POSIX ();
use Time::Local qw(timegm);
use Time::HiRes qw(time);
use BookingTest;
use BookingRace qw(:all);

BookingRace::pin_module();

my $t = BookingTest->new(workers => 4, http => <<'EOT');
booking_type tool slot=1d hold=1d max=30d;
booking_type desk slot=30m hold=5m max=1d;
booking_type gift slot=none hold=1d;
booking_type spot slot=1h hold=2s;
booking_type bulk slot=1h hold=2s max=2h;
booking_user $http_x_user_id;
booking_user_groups $http_x_user_groups;
booking_quota fair count=3 per=month types=tool,gift;
booking_quota members hours=40 per=week types=desk groups=members tz=Europe/Paris;
booking_quota daily count=1 per=day types=spot;
booking_quota big count=300 per=month types=bulk;
booking_quota bulkday hours=100 per=day types=bulk groups=hourly;
EOT

for my $r ((map { [ "t$_", 'tool' ] } 1 .. 45), (map { [ "d$_", 'desk' ] } 1 .. 3),
           (map { [ "g$_", 'gift' ] } 1 .. 5), [ 's1', 'spot' ], [ 's2', 'spot' ],
           [ 'b1', 'bulk' ]) {
    $t->req(PUT => "/admin/resources/$r->[0]", body => { type => $r->[1], capacity => 100, owner => 'olga' })
        ->{status} == 201 or BAIL_OUT("PUT $r->[0]");
}

my $now = redis_now($t);
my @g = gmtime $now;
my ($y, $m) = ($g[5] + 1900, $g[4] + 1);
sub month_start { my ($yy, $mm) = @_; while ($mm > 12) { $mm -= 12; $yy++ } return timegm(0, 0, 0, 1, $mm - 1, $yy) }
my $M0 = month_start($y, $m);         # this month, UTC
my $M1 = month_start($y, $m + 1);     # next month
my $M2 = month_start($y, $m + 2);
my $DAY = 86400;

sub tool {
    my ($user, $res, $day0, %o) = @_;
    return book($t, $user, { resource => $res, start => date($day0), end => date($day0 + $DAY),
                             %{ $o{body} || {} } }, %o);
}

sub quota_is {
    my ($r, $quota, $start, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    BookingTest::error_is($r, 429, 'quota', name => "$name: 429 quota");
    is $r->{json}{error}{quota}, $quota, "$name: names the quota $quota";
    is $r->{json}{error}{period_start}, iso($start), "$name: and the period's start " . iso($start);
}

# ---------------------------------------------------------------- count per month

my @ann = map { tool('ann', "t$_", $M1 + ($_ + 1) * $DAY) } 1 .. 3;
is join(' ', map { $_->{status} } @ann), '201 201 201', 'ann books 3 tools in one month';
quota_is(tool('ann', 't4', $M1 + 10 * $DAY), 'fair', $M1, 'the fourth tool of that month');
is tool('ann', 't4', $M2 + 2 * $DAY)->{status}, 201, 'a tool of the month after: its own count';
is tool('bob', 't4', $M1 + 10 * $DAY)->{status}, 201, 'bob has his own count';
is tool('ann', 't5', $M1 + 11 * $DAY, prefix => '/admin/')->{status}, 201,
    "an admin location's booking for ann is neither counted nor refused";
is book($t, undef, { resource => 't6', kind => 'block', start => date($M1 + 12 * $DAY),
                     end => date($M1 + 13 * $DAY) }, prefix => '/admin/')->{status}, 201,
    'a block is not counted';
quota_is(tool('ann', 't6', $M1 + 14 * $DAY), 'fair', $M1, 'ann still has her three');

is act($t, 'ann', $ann[0]{json}{id}, 'cancel')->{status}, 200, 'ann cancels one';
is tool('ann', 't6', $M1 + 14 * $DAY)->{status}, 201, 'and may book another that month';
quota_is(tool('ann', 't7', $M1 + 15 * $DAY), 'fair', $M1, 'but not one more');

# the retry of a booking made, with its Idempotency-Key, gets its first
# answer even with the quota full; a new request with a new key is 429
my $idem = sub { tool('kim', "t$_[0]", $M1 + $_[0] * $DAY, headers => { 'Idempotency-Key' => "kim-key-$_[1]-0123456789" }) };
my @kim = map { $idem->($_, $_) } 1 .. 3;
is join(' ', map { $_->{status} } @kim), '201 201 201', 'kim books 3 tools, each with an Idempotency-Key';
my $again = $idem->(3, 3);
is $again->{status}, 201, 'the third again, with its key, once the quota is full: 201';
is $again->{json}{id}, $kim[2]{json}{id}, '... the same booking';
is $again->{headers}{'idempotent-replayed'}, 'true', '... replayed';
quota_is($idem->(4, 4), 'fair', $M1, 'a fourth with a new key');

# a booking that crosses into the next month counts in both
is tool('cid', 't8', $M2 - $DAY, body => { end => date($M2 + $DAY) })->{status}, 201,
    'cid: one booking across the turn of the month';
is tool('cid', "t$_", $M2 + $_ * $DAY)->{status}, 201, "cid: tool $_ of the second month" for 9 .. 10;
quota_is(tool('cid', 't11', $M2 + 11 * $DAY), 'fair', $M2, 'the crossing one counted in the second month too');

# timeless gifts count in the month they are made
is book($t, 'dan', { resource => "g$_" })->{status}, 201, "dan: gift $_" for 1 .. 3;
quota_is(book($t, 'dan', { resource => 'g4' }), 'fair', $M0, 'a fourth gift this month');
is tool('dan', 't12', $M1 + 3 * $DAY)->{status}, 201, 'a tool next month is of another period';

# an expired hold gives its place back (no request told the user's count)
my $D1 = POSIX::floor($now / $DAY) * $DAY + 3 * $DAY;
my $spot = sub { book($t, 'ida', { resource => $_[0], start => iso($D1 + 10 * 3600),
                                   end => iso($D1 + 11 * 3600), hold => JSON::PP::true }) };
is $spot->('s1')->{status}, 201, 'ida holds a spot (hold=2s)';
quota_is($spot->('s2'), 'daily', $D1, 'a second spot that day, while the hold lives');
Time::HiRes::sleep(3.2);
is $spot->('s2')->{status}, 201, 'once the hold has expired, the second spot: 201';

# past the first 256 claims of a period: cancels give their places back at
# once, expired holds when a refusal reads every claim
my $B = $M1 + $DAY;
my $bulk = sub {
    my ($user, $i, %b) = @_;
    return book($t, $user, { resource => 'b1', start => iso($B + $i * 3600), end => iso($B + ($i + 1) * 3600), %b });
};
my @lou = map { $bulk->('lou', $_) } 0 .. 299;
is scalar(grep { $_->{status} == 201 } @lou), 300, 'lou books 300 hours of a month with count=300';
is $bulk->('lou', 300)->{status}, 429, 'the 301st: 429';
my $cancelled = 0;
$cancelled += act($t, 'lou', $_->{json}{id}, 'cancel')->{status} == 200 for @lou[ 256 .. 299 ];
is $cancelled, 44, 'lou cancels 44 of them';
my $more = 0;
$more += $bulk->('lou', 300 + $_)->{status} == 201 for 0 .. 43;
is $more, 44, 'and books 44 more';
is $bulk->('lou', 344)->{status}, 429, 'but not 45';
my @mo = map { $bulk->('mo', $_, hold => JSON::PP::true) } 0 .. 299;
is scalar(grep { $_->{status} == 201 } @mo), 300, 'mo holds 300 hours (hold=2s)';
Time::HiRes::sleep(2.5);
is $bulk->('mo', 300)->{status}, 201, 'once they have expired, the next: 201 (every claim read)';

# what booking_create refuses anyway claims nothing
my $hh = user_h('ned', 'X-User-Groups' => 'hourly');
is $t->req(POST => '/api/bookings', body => { resource => 'b1', start => iso($B) }, headers => $hh)->{status},
    400, 'a start without an end: 400';
is $t->req(POST => '/api/bookings', body => { resource => 'b1', start => iso($B), end => iso($B + 5 * 3600) },
           headers => $hh)->{status}, 422, 'longer than max: 422';
is $t->req(POST => '/api/bookings', body => { resource => 'b1', start => iso($B + 60), end => iso($B + 3600) },
           headers => $hh)->{status}, 422, 'not on a slot: 422';
is_deeply $t->redis('KEYS', 'bk:{u:ned}:p:*'), [], '... and none of them left a claim';

# ---------------------------------------------------------------- hours per week, Paris

# the Mondays of Paris after now: 00:00 local, in UTC (CET +1, CEST +2)
sub paris_monday {
    my ($from) = @_;
    my $d = POSIX::floor(($from + 7200) / $DAY) + 1;
    $d++ while (($d + 3) % 7) != 0;
    my $mid = $d * $DAY;
    # 00:00 Paris is 23:00Z or 22:00Z the day before
    for my $off (3600, 7200) {
        my $u = $mid - $off;
        my @l = localtime_paris($u);
        return $u if $l[2] == 0 && $l[1] == 0;
    }
    die "no Paris midnight found\n";
}
sub localtime_paris {
    local $ENV{TZ} = 'Europe/Paris';
    POSIX::tzset();
    my @l = localtime $_[0];
    return @l;
}

my $W = paris_monday($now + 3 * 7 * $DAY);
my $H = 3600;
my $mh = user_h('eve', 'X-User-Groups' => 'staff, members');
sub desk {
    my ($res, $from, $to, $h) = @_;
    return $t->req(POST => '/api/bookings', body => { resource => $res, start => iso($from), end => iso($to) },
                   headers => $h);
}
my $ok = 0;
$ok += desk('d1', $W + $_ * $DAY + 8 * $H, $W + $_ * $DAY + 16 * $H, $mh)->{status} == 201 for 0 .. 4;
is $ok, 5, 'eve (members) books 5 x 8 h in one week';
quota_is(desk('d2', $W + 5 * $DAY + 8 * $H, $W + 5 * $DAY + 8.5 * $H, $mh), 'members', $W,
         '30 min more that week');
is desk('d2', $W + 7 * $DAY + 8 * $H, $W + 7 * $DAY + 16 * $H, $mh)->{status}, 201, 'the next week is new';
my $free = user_h('fay', 'X-User-Groups' => 'staff');
$ok = 0;
$ok += desk('d3', $W + $_ * $DAY + 6 * $H, $W + $_ * $DAY + 15 * $H, $free)->{status} == 201 for 0 .. 5;
is $ok, 6, 'fay, not in members, books 54 h that week';

# across Sunday midnight: 38 h in week A, then 4 h before midnight is too much, 2 h is not
my $A = $W + 14 * $DAY;
my $gh = user_h('gus', 'X-User-Groups' => 'members');
$ok = 0;
$ok += desk('d1', $A + $_ * $DAY + 8 * $H, $A + $_ * $DAY + 15.5 * $H, $gh)->{status} == 201 for 0 .. 3;
$ok += desk('d1', $A + 4 * $DAY + 8 * $H, $A + 4 * $DAY + 16 * $H, $gh)->{status} == 201;
is $ok, 5, 'gus books 38 h in a week';
quota_is(desk('d2', $A + 7 * $DAY - 4 * $H, $A + 7 * $DAY + 4 * $H, $gh), 'members', $A,
         '8 h across Sunday midnight, 4 of them in the full week');
is desk('d2', $A + 7 * $DAY - 2 * $H, $A + 7 * $DAY + 6 * $H, $gh)->{status}, 201,
    '8 h across it with 2 in the first week: 201';

# the DST weeks: Monday 2027-03-22 00:00 CET, Monday 2027-10-25 00:00 CEST
for my $case ([ '2027-03-24', timegm(0, 0, 23, 21, 2, 2027), 167 ],
              [ '2027-10-27', timegm(0, 0, 22, 24, 9, 2027), 169 ]) {
    my ($day, $start, $hours) = @$case;
    next if $start < $now;
    my $hh = user_h("hal$hours", 'X-User-Groups' => 'members');
    my $mid = epoch("${day}T08:00:00Z");
    $ok = 0;
    $ok += desk('d3', $mid + $_ * $DAY, $mid + $_ * $DAY + 20 * $H, $hh)->{status} == 201 for 0 .. 1;
    is $ok, 2, "$day: 40 h in the week";
    quota_is(desk('d3', $mid + 2 * $DAY, $mid + 2 * $DAY + 1800, $hh), 'members', $start,
             "$day: the $hours-hour week");
}

# ---------------------------------------------------------------- racing

my $rounds = 0;
my %all;
for my $round (1 .. 3) {
    my @kids;
    for my $i (1 .. 40) {
        my $res = "t$i";
        my $day = month_start($y, $m + 2 + $round) + 4 * $DAY;
        push @kids, BookingTest::bg(sub {
            tool("racer$round", $res, $day, body => { hold => JSON::PP::true })->{status} });
    }
    my %st;
    $st{ $_->result(60) // 'none' }++ for @kids;
    $all{$_} += $st{$_} for keys %st;
    $rounds++ if ($st{201} // 0) == 3 && ($st{429} // 0) == 37;
}
is $rounds, 3, '3 times, one user sends 40 holds at once against count=3: exactly 3 are 201, 37 are 429 ('
    . join(', ', map { "$_ x$all{$_}" } sort keys %all) . ')';

is_deeply [ $t->check_error_log ], [], 'no alert, crash or crit in the error log';

# ---------------------------------------------------------------- nginx -t

for my $case (
    [ 'no limit', 'booking_quota q per=month;', qr/needs count= or hours=/ ],
    [ 'no period', 'booking_quota q count=3;', qr/needs count= or hours=, and per=/ ],
    [ 'both limits', 'booking_quota q count=3 hours=2 per=day;', qr/one of count= and hours=/ ],
    [ 'an unknown type', 'booking_quota q count=3 per=day types=boat;', qr/names type "boat"/ ],
    [ 'a zone that does not exist', 'booking_quota q count=3 per=day tz=Europe/Atlantis;',
      qr/no time zone "Europe\/Atlantis"/ ],
    [ 'a path for a zone', 'booking_quota q count=3 per=day tz=../../etc/passwd;',
      qr/not a time zone name/ ],
    [ 'per=year', 'booking_quota q count=3 per=year;', qr/per=day, per=week or per=month/ ],
    [ 'a duplicate name', "booking_quota q count=3 per=day;\nbooking_quota q count=4 per=day;",
      qr/is duplicate/ ],
) {
    my $n = BookingTest->nginx_t(http => "booking_type tool slot=1d;\n$case->[1]",
                                 server => 'location /api/ { booking_api; }');
    ok !$n->ok, "nginx -t refuses $case->[0]";
    like $n->out, $case->[2], "$case->[0]: the message says why";
}

done_testing;
