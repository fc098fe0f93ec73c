# Index upkeep: a write prunes the resource's indexes and the user's index
# only on its turn (one in 8, drawn from Redis's clock), not every time;
# and counter chunks always get their expiry.
# What matters to users is that the indexes stay bounded: stale entries
# planted in every index are gone after a few hundred writes (the chance
# that 200 writes all skip their turn is (7/8)^200, about 3e-12), and no
# entry of a booking still kept is ever dropped.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use BookingTest;
use BookingRace qw(:all);

BookingRace::pin_module();

my $t = BookingTest->new;
my $RETAIN = 31 * 86400;
my $N = 200;
my $K = 'bk:{r:desk-u}';

my $r = $t->req(PUT => '/admin/resources/desk-u', body => { type => 'desk', capacity => 1000 });
is $r->{status}, 201, 'PUT desk-u';

my $now = redis_now($t);
my $old = $now - $RETAIN - 3600;

sub plant {
    my ($tag) = @_;
    $t->redis('ZADD', "$K:live", $old, "ghost-live-$tag");
    $t->redis('ZADD', "$K:all", $old, "ghost-all-$tag");
    $t->redis('ZADD', "$K:chunks", 0, 0);
    $t->redis('ZADD', 'bk:{u:alice}:bookings', $_, "desk-u.ghost-$tag-$_") for 1 .. 5;
}

sub stale_left {
    my @left;
    push @left, grep { /^ghost/ } @{ $t->redis('ZRANGE', "$K:$_", 0, -1) } for qw(live all);
    push @left, 'chunk 0' if defined $t->redis('ZSCORE', "$K:chunks", 0);
    push @left, grep { /ghost/ } @{ $t->redis('ZRANGE', 'bk:{u:alice}:bookings', 0, -1) };
    return \@left;
}

plant('holds');
is scalar @{ stale_left() }, 8, 'eight stale entries planted';

my @ids;
my $base = hour_start($now, 2);
for my $i (0 .. $N - 1) {
    my $s = $base + $i * 1800;
    my $h = book($t, 'alice', { resource => 'desk-u', start => iso($s), end => iso($s + 1800),
                                hold => JSON::PP::true });
    is $h->{status}, 201, "hold $i" or diag $h->{body};
    push @ids, $h->{json}{id};
}

is_deeply stale_left(), [], "after $N holds: no stale entry is left in any index";
is $t->redis('ZCARD', "$K:live"), $N, 'every hold is still in the live index';
is $t->redis('ZCARD', "$K:all"), $N, 'every hold is still in the listing index';
is $t->redis('ZCARD', 'bk:{u:alice}:bookings'), $N, "every hold is still in the user's index";
ok defined $t->redis('ZSCORE', "$K:chunks", int(($base / 1800) / 1024)), 'the chunk in use stays indexed';

plant('confirms');
for my $i (0 .. $N - 1) {
    my $c = act($t, 'alice', $ids[$i], 'confirm');
    is $c->{status}, 200, "confirm $i" or diag $c->{body};
}
my @left = grep { !/ghost-.*confirms-\d$/ || /ghost-(?:live|all)/ } @{ stale_left() };
is_deeply \@left, [], "after $N confirms: no stale entry is left in the resource's indexes";
is $t->redis('ZCARD', "$K:live"), $N, 'every booking is still in the live index';

# the user index is kept by creates, not confirms: the next holds drop those
for my $i (0 .. $N - 1) {
    my $s = $base + ($N + $i) * 1800;
    my $h = book($t, 'alice', { resource => 'desk-u', start => iso($s), end => iso($s + 1800),
                                hold => JSON::PP::true });
    is $h->{status}, 201, "hold " . ($N + $i) or diag $h->{body};
}
is_deeply stale_left(), [], 'after as many more holds: no stale entry is left anywhere';
is $t->redis('ZCARD', 'bk:{u:alice}:bookings'), 2 * $N, "every booking is still in the user's index";

# A counter chunk whose key expired while the chunk index still names it
# (its entry goes at the next upkeep), rewritten by a late release: the key
# made again gets its expiry too, instead of living forever.
{
    my $s = $base + 2 * $N * 1800 + 86400;
    my $h = book($t, 'alice', { resource => 'desk-u', start => iso($s), end => iso($s + 1800),
                                hold => JSON::PP::true });
    is $h->{status}, 201, 'a hold in a chunk of its own' or diag $h->{body};
    my $chunk = "$K:c:" . int(($s / 1800) / 1024);
    ok $t->redis('TTL', $chunk) > 0, 'its counter chunk has an expiry';
    $t->redis('DEL', $chunk);
    ok defined $t->redis('ZSCORE', "$K:chunks", int(($s / 1800) / 1024)), 'the index still names the chunk';
    is act($t, 'alice', $h->{json}{id}, 'cancel')->{status}, 200, 'cancel it';
    is $t->redis('TTL', $chunk), -2, 'the cancel does not make the chunk again: all zeros, it is gone';
    ok !defined $t->redis('ZSCORE', "$K:chunks", int(($s / 1800) / 1024)), 'and so is its index entry';

    # a chunk still in use keeps its expiry; released to zeros, it goes
    my @h = map { book($t, 'alice', { resource => 'desk-u', start => iso($s + $_ * 1800),
                                       end => iso($s + ($_ + 1) * 1800), hold => JSON::PP::true }) } 0, 1;
    is_deeply [ map { $_->{status} } @h ], [ 201, 201 ], 'two holds in that chunk';
    is act($t, 'alice', $h[0]{json}{id}, 'cancel')->{status}, 200, 'cancel one';
    ok $t->redis('TTL', $chunk) > 0, 'the chunk, still in use, keeps its expiry';
    is act($t, 'alice', $h[1]{json}{id}, 'cancel')->{status}, 200, 'cancel the other';
    is $t->redis('EXISTS', $chunk), 0, 'the chunk, all zeros, is deleted';
}

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;
