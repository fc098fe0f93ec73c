# Upkeep: what a resource keeps of bookings gone RETAIN ago (their records
# and index entries, counter chunks of slots long past) is dropped by
# writes, on their turn (one in 8, drawn from Redis's clock), a bounded
# number at a time; a user's index loses the entries of bookings gone when
# it is listed.  What matters to users is that what is kept stays bounded:
# stale entries planted everywhere are gone after a few hundred writes (the
# chance that 200 writes all skip their turn is (7/8)^200, about 3e-12),
# and nothing of a booking still kept is ever dropped.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use BookingTest;
use BookingRace qw(:all);
use BookingKeys qw(rkey ukey CHUNK);

BookingRace::pin_module();

my $t = BookingTest->new;
my $RETAIN = 31 * 86400;
my $N = 200;
my ($A, $B, $C, $K) = map { rkey('desk-u', $_) } qw(:a :b :c :k);

my $r = $t->req(PUT => '/admin/resources/desk-u', body => { type => 'desk', capacity => 1000 });
is $r->{status}, 201, 'PUT desk-u';

my $now = redis_now($t);
my $old = $now - $RETAIN - 3600;

sub plant {
    my ($tag) = @_;
    for my $i (1 .. 5) {
        $t->redis('ZADD', $A, $old, "ghost$tag$i");
        $t->redis('HSET', $B, "ghost$tag$i", '{"status":"confirmed"}');
    }
    $t->redis('ZADD', $K, 0, 0);
    $t->redis('HSET', $C, 0, "\0" x (4 * CHUNK));
}

sub stale_left {
    my @left;
    push @left, grep { /^ghost/ } @{ $t->redis('ZRANGE', $A, 0, -1) };
    push @left, grep { /^ghost/ } @{ $t->redis('HKEYS', $B) };
    push @left, 'chunk 0' if defined $t->redis('ZSCORE', $K, 0);
    push @left, 'counters 0' if $t->redis('HEXISTS', $C, 0);
    return \@left;
}

plant('h');
is scalar @{ stale_left() }, 12, 'twelve stale things planted';

my @ids;
my $base = hour_start($now, 2);
for my $i (0 .. $N - 1) {
    my $s = $base + $i * 1800;
    my $h = book($t, 'alice', { resource => 'desk-u', start => iso($s), end => iso($s + 1800),
                                hold => JSON::PP::true });
    is $h->{status}, 201, "hold $i" or diag $h->{body};
    push @ids, $h->{json}{id};
}

is_deeply stale_left(), [], "after $N holds: nothing stale is left";
is $t->redis('ZCARD', $A), $N, 'every hold is still in the index';
is $t->redis('HLEN', $B), $N, 'every hold is still kept';
is $t->redis('ZCARD', ukey('alice')), $N, "every hold is in the user's index";
ok defined $t->redis('ZSCORE', $K, int(($base / 1800) / CHUNK)), 'the chunk in use stays indexed';

plant('c');
for my $i (0 .. $N - 1) {
    my $c = act($t, 'alice', $ids[$i], 'confirm');
    is $c->{status}, 200, "confirm $i" or diag $c->{body};
}
is_deeply stale_left(), [], "after $N confirms: nothing stale is left";
is $t->redis('HLEN', $B), $N, 'every booking is still kept';

# a user's index: entries whose booking is gone leave it when it is listed
$t->redis('ZADD', ukey('alice'), 1, "desk-u.ghost$_") for 1 .. 5;
$t->redis('ZADD', ukey('alice'), 1, "gone-resource.ghost$_") for 1 .. 5;
my ($seen, $cursor) = (0, undef);
for (1 .. 10) {
    my $p = $t->req(GET => '/api/bookings?limit=100' . ($cursor ? "&cursor=$cursor" : ''),
                    headers => { 'X-User-Id' => 'alice' });
    is $p->{status}, 200, 'a page of alice\'s bookings' or last;
    $seen += @{ $p->{json}{items} };
    $cursor = $p->{json}{next} or last;
}
is $seen, $N, "alice's list holds her $N bookings, and nothing of the ghosts";
is_deeply [ grep { /ghost/ } @{ $t->redis('ZRANGE', ukey('alice'), 0, -1) } ], [],
          "the ghosts left her index";
is $t->redis('ZCARD', ukey('alice')), $N, "her bookings stay in it";

# A counter chunk cancelled back to zeros is gone, with its index entry;
# one still in use stays.
{
    # the first slot of a chunk past every booking above: a chunk of their
    # own whatever the hour (a slot 2N + 48 on could share the last
    # bookings' chunk)
    my $n = int(($base / 1800 + 2 * $N) / CHUNK) + 2;
    my $s = $n * CHUNK * 1800;
    my @h = map { book($t, 'alice', { resource => 'desk-u', start => iso($s + $_ * 1800),
                                       end => iso($s + ($_ + 1) * 1800), hold => JSON::PP::true }) } 0, 1;
    is_deeply [ map { $_->{status} } @h ], [ 201, 201 ], 'two holds in a chunk of their own';
    ok $t->redis('HEXISTS', $C, $n), 'its counters exist';
    is act($t, 'alice', $h[0]{json}{id}, 'cancel')->{status}, 200, 'cancel one';
    ok $t->redis('HEXISTS', $C, $n), 'the chunk, still in use, stays';
    ok defined $t->redis('ZSCORE', $K, $n), '... indexed';
    is act($t, 'alice', $h[1]{json}{id}, 'cancel')->{status}, 200, 'cancel the other';
    ok !$t->redis('HEXISTS', $C, $n), 'the chunk, all zeros, is deleted';
    ok !defined $t->redis('ZSCORE', $K, $n), '... and so is its index entry';
}

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;
