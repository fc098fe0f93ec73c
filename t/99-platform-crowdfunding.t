# Platform: crowdfunding with a limited reward tier (SPEC §1 "Timeless
# resources", the invariant, §4 Idempotency-Key).  A campaign's early-bird
# tier has 100 rewards (type tier: slot=none); when the campaign opens,
# 150 backers pledge within the same instant.  Each pledge is a booking of
# one reward, sent with an Idempotency-Key so that the platform can retry
# a pledge whose answer it lost.
#
# What backers and the creator see, checked after the rush:
# - 150 backers racing from 30 processes with keep-alive connections over 4
#   nginx workers: exactly 100 are 201 confirmed and 50 are 409
#   unavailable, nothing else;
# - availability says capacity 100, free 0: 100 used; Redis's own count of
#   the tier (the resource hash's "used") is 100;
# - the creator's list of backers (GET /bookings?resource=, as the
#   resource's owner, every page) holds exactly the 100 bookings answered
#   201, one per winning backer, all confirmed;
# - the listing (GET /resources?type=tier) shows 0 left, the other tier
#   untouched; the tier's calendar feed is empty (timeless);
# - a lost answer retried with its Idempotency-Key replays the first answer
#   (Idempotent-Replayed: true) and takes nothing more;
# - a refund (cancel) frees one reward, the next backer gets it, the one
#   after is 409 again.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use IO::Select;
use Time::HiRes qw(time);
use BookingTest;
use BookingKeys qw(rkey);
use BookingRace qw(:all);

BookingRace::pin_module();

my $t = BookingTest->new(workers => 4, http => <<'EOT');
booking_type tier slot=none hold=15m;
booking_user $http_x_user_id;
EOT

my $JSON = JSON::PP->new->canonical;

sub error_is { local $Test::Builder::Level = $Test::Builder::Level + 1; BookingTest::error_is(@_) }

sub avail { my $r = $t->req(GET => "/api/resources/$_[0]/availability"); return $r->{status} == 200 ? $r->{json} : { status => $r->{status}, body => $r->{body} } }

sub listing {
    my $r = $t->req(GET => '/api/resources?type=tier');
    return { error => "$r->{status} $r->{body}" } unless $r->{status} == 200;
    return { map { $_->{id} => $_->{free} } @{ $r->{json}{items} } };
}

# Runs $n children, each with its own keep-alive connection; they all
# connect first and start together (as t/40-race.t does).
sub race {
    my ($n, $work) = @_;
    pipe(my $ready_r, my $ready_w) or die "pipe: $!";
    pipe(my $go_r, my $go_w) or die "pipe: $!";
    my @kids;
    for my $i (0 .. $n - 1) {
        push @kids, BookingTest::bg(sub {
            close $ready_r;
            close $go_w;
            my $conn = BookingRace::Conn->new($t->port, timeout => 30 * BookingTest::slow());
            syswrite $ready_w, 'r';
            close $ready_w;
            sysread $go_r, my $x, 1;    # EOF: go
            my $out = $work->($i, $conn);
            $conn->close_conn;
            return $out;
        });
    }
    close $ready_w;
    close $go_r;
    my ($got, $sel) = (0, IO::Select->new($ready_r));
    my $deadline = time + 20 * BookingTest::slow();
    while ($got < $n && $sel->can_read($deadline - time)) {
        my $k = sysread $ready_r, my $buf, 64;
        last unless $k;
        $got += $k;
    }
    close $ready_r;
    is $got, $n, "$n racing processes connected and waiting";
    close $go_w;    # go
    return [ map { $_->result(90) } @kids ];
}

is $t->req(PUT => '/admin/resources/early-bird', body => { type => 'tier', capacity => 100, owner => 'creator-kim',
    title => 'Early bird: the board game, 30% off' })->{status}, 201, 'creator-kim opens an early-bird tier of 100';
is $t->req(PUT => '/admin/resources/deluxe', body => { type => 'tier', capacity => 20, owner => 'creator-kim',
    title => 'Deluxe edition' })->{status}, 201, '... and a deluxe tier of 20';

is_deeply avail('early-bird'), { resource => 'early-bird', type => 'tier', slot => 'none', capacity => 100, free => 100 },
    'before: 100 free';
is_deeply listing(), { 'early-bird' => 100, deluxe => 20 }, 'before: the listing shows both tiers';

# ------------------------------------------------------------ the rush: 150 backers, 30 processes

my ($N, $P) = (150, 30);
my $pledge = sub { my ($b) = @_; $JSON->encode({ resource => 'early-bird', note => "pledge of $b" }) };
my $key    = sub { "pledge-$_[0]-0f3c9a7e" };
my $t0 = time;
my $reports = race($P, sub {
    my ($i, $conn) = @_;
    my @out;
    for (my $b = $i; $b < $N; $b += $P) {
        my $backer = sprintf 'backer-%03d', $b;
        my $r = eval {
            $conn->request(POST => '/api/bookings',
                           { 'Content-Type' => 'application/json', 'X-User-Id' => $backer,
                             'Idempotency-Key' => $key->($backer) }, $pledge->($backer));
        };
        push @out, $r ? [ $backer, $r->{status}, $r->{json} ? ($r->{json}{error}{code} // $r->{json}{status} // '') : '',
                          $r->{json} ? $r->{json}{id} : undef, $r->{body} ]
                      : [ $backer, 599, "$@", undef, '' ];
    }
    return \@out;
});
my $elapsed = time - $t0;
my @answers = map { ref $_ eq 'ARRAY' ? @$_ : ([ '?', 0, $_->{bg_error} // 'no report', undef, '' ]) } @$reports;
is scalar @answers, $N, "$N answers";
my %by;
$by{"$_->[1] $_->[2]"}++ for @answers;
is $by{'201 confirmed'} // 0, 100, 'exactly 100 backers get the reward (201 confirmed)';
is $by{'409 unavailable'} // 0, 50, 'exactly 50 get 409 unavailable';
is scalar(keys %by), 2, 'and no other answer' or diag join(', ', map { "$_ x$by{$_}" } sort keys %by);
note sprintf 'the rush: %s in %.2fs', join(', ', map { "$_ x$by{$_}" } sort keys %by), $elapsed;
my @won = grep { $_->[1] == 201 } @answers;
my %won_id = map { $_->[3] => $_->[0] } @won;

is_deeply avail('early-bird'), { resource => 'early-bird', type => 'tier', slot => 'none', capacity => 100, free => 0 },
    'availability: capacity 100, free 0 (100 used)';
is $t->redis('HGET', rkey('early-bird'), 'used'), 100, "Redis's count of the tier: used 100";
is_deeply listing(), { 'early-bird' => 0, deluxe => 20 }, 'the listing: 0 left, the deluxe tier untouched';

# the creator's list of backers, every page
my (@items, $cursor, $pages);
for (1 .. 20) {
    my $r = $t->req(GET => '/api/bookings?resource=early-bird&limit=100' . (defined $cursor ? "&cursor=$cursor" : ''),
                    headers => { 'X-User-Id' => 'creator-kim' });
    last unless $r->{status} == 200;
    $pages++;
    push @items, @{ $r->{json}{items} || [] };
    $cursor = $r->{json}{next};
    last unless defined $cursor;
}
is scalar @items, 100, "the creator's list of backers: 100 bookings ($pages page(s))";
is_deeply [ sort map { $_->{id} } @items ], [ sort keys %won_id ], '... exactly the ones answered 201';
is_deeply [ sort map { $_->{user} } @items ], [ sort map { $_->[0] } @won ], '... one per winning backer';
is scalar(grep { $_->{status} eq 'confirmed' && $_->{quantity} == 1 && !exists $_->{start} } @items), 100,
    '... each confirmed, one reward, no dates';

my $cal = $t->req(GET => '/api/resources/early-bird/calendar.ics');
is $cal->{status}, 200, 'calendar feed of the tier: 200';
like $cal->{body}, qr/\ABEGIN:VCALENDAR\r\n.*END:VCALENDAR\r\n\z/s, '... a VCALENDAR';
unlike $cal->{body}, qr/BEGIN:VEVENT/, '... empty (a timeless tier has no calendar)';

# a retry of a winning pledge whose answer was lost: the same answer again
my $w = $won[0];
my $re = $t->req(POST => '/api/bookings', body => $pledge->($w->[0]),
                 headers => { 'Content-Type' => 'application/json', 'X-User-Id' => $w->[0], 'Idempotency-Key' => $key->($w->[0]) });
is $re->{status}, 201, "a retry of $w->[0]'s pledge with its key: 201";
is $re->{json}{id}, $w->[3], '... the same booking';
is $re->{headers}{'idempotent-replayed'}, 'true', '... Idempotent-Replayed: true';
is avail('early-bird')->{free}, 0, '... and nothing more taken';

# a refund: one reward back, the next backer gets it
my $refund = act($t, 'creator-kim', $w->[3], 'cancel');
is "$refund->{status} $refund->{json}{status}", '200 cancelled', 'the creator refunds one backer (cancel)';
is avail('early-bird')->{free}, 1, 'availability: 1 free';
is listing()->{'early-bird'}, 1, 'the listing: 1 left';
my $late = book($t, 'backer-late-1', { resource => 'early-bird' });
is "$late->{status} " . ($late->{json}{status} // ''), '201 confirmed', 'a late backer gets it';
error_is(book($t, 'backer-late-2', { resource => 'early-bird' }), 409, 'unavailable', name => 'the next one: 409');
is avail('early-bird')->{free}, 0, 'availability: 0 free';
is $t->redis('HGET', rkey('early-bird'), 'used'), 100, 'used 100';

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;
