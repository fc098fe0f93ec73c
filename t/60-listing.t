# Listing: GET /api/resources?type=&from=&to=&quantity=&near=&radius=&limit=&cursor=
# (SPEC §4 "Listing and calendar rules").  What a listing page shows:
# only its type; id order, or nearest first with distance_m; radius; the
# fewest free units over a range and the quantity filter; cursors that walk
# every matching resource exactly once, also while bookings come and go and
# resources are deleted between pages; the bounded scan behind a page; every
# error; timeless stock.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(time sleep);
use MIME::Base64 ();
use BookingTest;

# no sweeper: its lease and due_list calls, once a second, would count
# among the FCALLs a page is allowed (the candidates read by a script)
my $HTTP = <<'EOT';
booking_sweeper off;
booking_type room  slot=1d hold=15m min=1d max=30d horizon=365d;
booking_type car   slot=1h hold=10m min=1h max=14d buffer=1h lead=2h;
booking_type desk  slot=30m hold=5m max=1d;
booking_type spot  slot=1h hold=10m;
booking_type tool  slot=1h hold=10m;
booking_type gift  slot=none hold=1d;
booking_user $http_x_user_id;
EOT

my $t = BookingTest->new(workers => 2, http => $HTTP);

# ---------------------------------------------------------------- helpers

sub qenc {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9_.~-])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

# GET /api/resources with the given query (an arrayref keeps the order)
sub list {
    my (@q) = @_;
    my @pairs;
    while (@q) {
        my ($k, $v) = splice @q, 0, 2;
        push @pairs, "$k=" . qenc($v);
    }
    return $t->req(GET => '/api/resources?' . join('&', @pairs));
}

# every page of a query: {ids => [...], items => [...], pages => [...], error}
# $between->($page_no, $ids_so_far) runs after each page that gives next.
sub walk {
    my ($q, $between) = @_;
    my (@ids, @items, @pages);
    my $cursor;
    for my $n (1 .. 200) {
        my $r = list(@$q, defined $cursor ? (cursor => $cursor) : ());
        if ($r->{status} != 200 || ref $r->{json} ne 'HASH' || ref $r->{json}{items} ne 'ARRAY') {
            return { ids => \@ids, items => \@items, pages => \@pages,
                     error => "page $n: $r->{status} $r->{body}" };
        }
        push @pages, $r->{json};
        push @items, @{ $r->{json}{items} };
        push @ids, map { $_->{id} } @{ $r->{json}{items} };
        $cursor = $r->{json}{next};
        last unless defined $cursor;
        $between->($n, [@ids]) if $between;
    }
    return { ids => \@ids, items => \@items, pages => \@pages,
             error => defined $cursor ? 'more than 200 pages' : undef };
}

sub put_res {
    my ($id, $doc) = @_;
    my $r = $t->req(PUT => "/admin/resources/$id", body => $doc);
    die "PUT $id: $r->{status} $r->{body}" unless $r->{status} == 201 || $r->{status} == 200;
    return $r;
}

sub del_res {
    my ($id) = @_;
    return $t->req(DELETE => "/admin/resources/$id");
}

sub book {
    my ($user, $body) = @_;
    return $t->req(POST => '/api/bookings', body => $body, headers => { 'X-User-Id' => $user });
}

sub act {
    my ($user, $id, $op) = @_;
    return $t->req(POST => "/api/bookings/$id/$op", headers => { 'X-User-Id' => $user });
}

sub now  { return 0 + $t->redis('TIME')->[0] }
sub day  { my ($now, $n) = @_; return (POSIX::floor($now / 86400) + $n) * 86400 }
sub hour { my ($now, $n) = @_; return (POSIX::floor($now / 3600) + $n) * 3600 }
sub date { return POSIX::strftime('%Y-%m-%d', gmtime $_[0]) }
sub iso  { return POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $_[0]) }

sub commandstats {
    my $info = $t->redis('INFO', 'commandstats');
    my %calls;
    $calls{$1} = $2 while $info =~ /^cmdstat_(\S+?):calls=(\d+)/mg;
    return \%calls;
}

sub ids_of { my ($r) = @_; return [ map { $_->{id} } @{ $r->{json}{items} || [] } ] }

sub dups {
    my %n;
    $n{$_}++ for @_;
    return [ sort grep { $n{$_} > 1 } keys %n ];
}

# Redis GEO's haversine (its own earth radius), meters
sub geodist {
    my ($lat1, $lon1, $lat2, $lon2) = @_;
    my $rad = 3.14159265358979323846 / 180;
    my $u = sin(($lat2 - $lat1) * $rad / 2);
    my $v = sin(($lon2 - $lon1) * $rad / 2);
    my $a = $u * $u + cos($lat1 * $rad) * cos($lat2 * $rad) * $v * $v;
    return 2 * 6372797.560856 * atan2(sqrt($a), sqrt(1 - $a));
}

my $now = now();

# ---------------------------------------------------------------- type filter

put_res($_, { type => 'room', capacity => 3, title => "Room $_", owner => 'own-1',
              attributes => { beds => 2 } }) for qw(fr-a fr-b fr-c fr-d);
put_res($_, { type => 'car', capacity => 1, title => "Car $_" }) for qw(c-1 c-2);
put_res('mover', { type => 'car', capacity => 1, title => 'Mover' });

my $r = list(type => 'room');
is $r->{status}, 200, 'listing rooms: 200';
like $r->{headers}{'content-type'}, qr{^application/json}, 'listing: JSON';
is_deeply ids_of($r), [qw(fr-a fr-b fr-c fr-d)], 'type=room: the rooms only, in id order';
ok !exists $r->{json}{next}, 'one page: no next';
is_deeply [ grep { $_->{type} ne 'room' } @{ $r->{json}{items} } ], [], 'every item is a room';
ok !grep({ exists $_->{free} || exists $_->{distance_m} } @{ $r->{json}{items} }),
    'a timed type without from/to: no free, no distance_m';

$r = list(type => 'car');
is_deeply ids_of($r), [qw(c-1 c-2 mover)], 'type=car: the cars only';

{
    # README: each item is the resource's document (id, type, capacity,
    # title, owner, location, attributes, groups), GET's answer without its
    # created_at and updated_at
    my $g = $t->req(GET => '/api/resources/fr-b');
    my ($item) = grep { $_->{id} eq 'fr-b' } @{ list(type => 'room')->{json}{items} };
    my %doc = %{ $g->{json} };
    delete @doc{qw(created_at updated_at)};
    is_deeply $item, \%doc, 'a listing item is the resource document';
}

# a resource whose type changes moves between listings at once
put_res('mover', { type => 'room', capacity => 1, title => 'Mover' });
is_deeply ids_of(list(type => 'room')), [qw(fr-a fr-b fr-c fr-d mover)], 'PUT car -> room: in the room listing';
is_deeply ids_of(list(type => 'car')), [qw(c-1 c-2)], '... and out of the car listing';
is del_res('mover')->{status}, 204, 'DELETE mover';
is_deeply ids_of(list(type => 'room')), [qw(fr-a fr-b fr-c fr-d)], 'a deleted resource leaves the listing';
is_deeply ids_of(list(type => 'desk')), [], 'a type with no resource: no items';
ok !exists list(type => 'desk')->{json}{next}, '... and no next';

# ---------------------------------------------------------------- free over a range

my $D = day($now, 10);
my %cap = map { $_ => 3 } qw(fr-a fr-b fr-c fr-d);
my %bk;    # id -> [resource, start day index, end day index, qty]

sub mkbook {
    my ($res, $d0, $d1, $q, $hold) = @_;
    my $b = book('lister', { resource => $res, start => date($D + $d0 * 86400),
                             end => date($D + $d1 * 86400), quantity => $q,
                             $hold ? (hold => JSON::PP::true) : () });
    die "booking $res: $b->{status} $b->{body}" unless $b->{status} == 201;
    $bk{ $b->{json}{id} } = [ $res, $d0, $d1, $q ];
    return $b->{json}{id};
}

mkbook('fr-b', 1, 2, 2);
mkbook('fr-b', 3, 5, 1, 1);    # a hold occupies too
mkbook('fr-c', 0, 4, 1);
my $fr_c_two = mkbook('fr-c', 2, 3, 2);
mkbook('fr-d', 5, 6, 1);

# what a user should see: the fewest free units over [d0, d1)
sub model_free {
    my ($res, $d0, $d1) = @_;
    my $max = 0;
    for my $d ($d0 .. $d1 - 1) {
        my $used = 0;
        for my $b (values %bk) {
            $used += $b->[3] if $b->[0] eq $res && $b->[1] <= $d && $d < $b->[2];
        }
        $max = $used if $used > $max;
    }
    return $cap{$res} - $max;
}

sub check_free {
    my ($name, $d0, $d1, $qty, @extra) = @_;
    my $r = list(type => 'room', from => date($D + $d0 * 86400), to => date($D + $d1 * 86400),
                 defined $qty ? (quantity => $qty) : (), @extra);
    my %want;
    for my $res (sort keys %cap) {
        my $f = model_free($res, $d0, $d1);
        $want{$res} = $f if $f >= ($qty // 1);
    }
    my %got = map { $_->{id} => $_->{free} } @{ $r->{json}{items} || [] };
    is $r->{status}, 200, "$name: 200";
    is_deeply \%got, \%want, "$name: the resources with enough free units, each with its fewest free units"
        or diag $r->{body};
    is_deeply ids_of($r), [ sort keys %want ], "$name: in id order";
}

check_free('days 0-6', 0, 6);
check_free('days 0-6, quantity=2', 0, 6, 2);
check_free('days 0-6, quantity=3', 0, 6, 3);
check_free('days 3-5', 3, 5);
check_free('days 3-5, quantity=2', 3, 5, 2);
check_free('days 2-3', 2, 3);
check_free('days 2-3, quantity=1', 2, 3, 1);
check_free('days 10-12 (nothing booked)', 10, 12);

# the listing says what availability says
for my $res (qw(fr-a fr-b fr-c fr-d)) {
    my $av = $t->req(GET => "/api/resources/$res/availability?from=" . date($D) . '&to=' . date($D + 6 * 86400));
    my ($min) = sort { $a <=> $b } map { $_->{units} } @{ $av->{json}{free} || [] };
    is $min, model_free($res, 0, 6), "$res: availability's fewest units agree";
}

# from/to are widened to slots: 06:00-07:00 on day 2 means day 2
$r = list(type => 'room', from => iso($D + 2 * 86400 + 6 * 3600), to => iso($D + 2 * 86400 + 7 * 3600));
is $r->{status}, 200, 'instants inside a day: 200';
is_deeply { map { $_->{id} => $_->{free} } @{ $r->{json}{items} } },
          { map { $_ => model_free($_, 2, 3) } grep { model_free($_, 2, 3) >= 1 } sort keys %cap },
          'instants inside a day are widened to the whole day';
# ... and offsets are converted: 01:00+02:00 on day 4 is 23:00Z on day 3
$r = list(type => 'room', from => POSIX::strftime('%Y-%m-%dT01:00:00+02:00', gmtime($D + 4 * 86400)),
          to => date($D + 4 * 86400));
is_deeply { map { $_->{id} => $_->{free} } @{ $r->{json}{items} } },
          { map { $_ => model_free($_, 3, 4) } grep { model_free($_, 3, 4) >= 1 } sort keys %cap },
          'an offset is converted to UTC before widening';

# a cancellation frees the units at once
is act('lister', $fr_c_two, 'cancel')->{status}, 200, 'cancel the 2 units of fr-c';
delete $bk{$fr_c_two};
check_free('days 0-6 after the cancel', 0, 6);
check_free('days 0-6 after the cancel, quantity=2', 0, 6, 2);

# ---------------------------------------------------------------- distance

# spot: a line north of the center, ties at one point, one west, one far
my ($LAT, $LON) = (48.0, -4.0);
my %loc;
$loc{ sprintf 'g-%02d', $_ } = [ $LAT + $_ * 0.01, $LON ] for 0 .. 8;
$loc{$_} = [ $LAT + 0.05, $LON ] for qw(t-b t-a);    # made in that order, equal to g-05
$loc{west} = [ $LAT, $LON - 0.05 ];
$loc{far}  = [ $LAT + 1.0, $LON ];                  # about 111 km
for my $id (qw(g-03 t-b g-07 west g-00 far g-05 g-01 t-a g-08 g-02 g-06 g-04)) {
    put_res($id, { type => 'spot', capacity => 2, title => "Spot $id",
                   location => { lat => $loc{$id}[0], lon => $loc{$id}[1] } });
}
put_res('noloc', { type => 'spot', capacity => 2, title => 'Nowhere' });

sub near_model {
    my ($lat, $lon, $radius) = @_;
    my %d = map { $_ => geodist($lat, $lon, @{ $loc{$_} }) } keys %loc;
    return [ map { [ $_, $d{$_} ] }
             sort { (sprintf('%.1f', $d{$a}) <=> sprintf('%.1f', $d{$b})) || $a cmp $b }
             grep { $d{$_} <= $radius } keys %d ];
}

sub check_near {
    my ($name, $lat, $lon, $radius, @extra) = @_;
    my $r = list(type => 'spot', near => "$lat,$lon", defined $radius ? (radius => $radius) : (),
                 limit => 100, @extra);
    my $want = near_model($lat, $lon, $radius // 50000);
    is $r->{status}, 200, "$name: 200";
    is_deeply ids_of($r), [ map { $_->[0] } @$want ], "$name: nearest first, ties by id, within the radius"
        or diag $r->{body};
    my @d = map { $_->{distance_m} } @{ $r->{json}{items} || [] };
    my @bad = grep { !defined $d[$_] || $d[$_] !~ /^\d+$/ || abs($d[$_] - $want->[$_][1]) > 2 + $want->[$_][1] * 0.002 }
              0 .. $#d;
    is_deeply \@bad, [], "$name: distance_m is the distance in whole meters";
    my @down = grep { $d[$_] < $d[ $_ - 1 ] } 1 .. $#d;
    is_deeply \@down, [], "$name: distance_m never decreases";
    return $r;
}

check_near('near the center', $LAT, $LON);
check_near('near the center, radius 3000', $LAT, $LON, 3000);
check_near('near the center, radius 1', $LAT, $LON, 1);
check_near('near the center, radius 200 km', $LAT, $LON, 200000);
check_near('near g-08', $LAT + 0.08, $LON);
check_near('near the far one, radius 1000 km', $LAT + 1.0, $LON, 1000000);
ok !grep({ $_->{id} eq 'noloc' } @{ list(type => 'spot', near => "$LAT,$LON", radius => 1000000)->{json}{items} }),
    'a resource without a location is never in a near listing';
is_deeply ids_of(list(type => 'spot', limit => 100)), [ sort(keys %loc, 'noloc') ],
    'without near: every spot in id order, distance aside';

# near with a range: free and distance_m together; a fully taken one drops out
my $H = hour($now, 30);
my $bk_g1 = book('lister', { resource => 'g-01', start => iso($H), end => iso($H + 3600), quantity => 2 });
is $bk_g1->{status}, 201, 'book both units of g-01';
book('lister', { resource => 'g-02', start => iso($H), end => iso($H + 3600), quantity => 1 });
$r = list(type => 'spot', near => "$LAT,$LON", radius => 5000, from => iso($H), to => iso($H + 7200));
is_deeply [ map { [ $_->{id}, $_->{free} ] } @{ $r->{json}{items} } ],
          [ map { [ $_->[0], $_->[0] eq 'g-02' ? 1 : 2 ] } grep { $_->[0] ne 'g-01' } @{ near_model($LAT, $LON, 5000) } ],
          'near + from/to: nearest first, taken ones left out, free given';
ok !grep({ !defined $_->{distance_m} } @{ $r->{json}{items} }), '... each with distance_m';

# paging nearest first, ties split across pages
{
    my $w = walk([ type => 'spot', near => "$LAT,$LON", radius => 200000, limit => 2 ]);
    is $w->{error}, undef, 'near, limit=2: every page 200';
    is_deeply $w->{ids}, [ map { $_->[0] } @{ near_model($LAT, $LON, 200000) } ],
        'near, limit=2: the pages walk every resource once, nearest first';
    ok !grep({ @{ $_->{items} } > 2 } @{ $w->{pages} }), 'no page holds more than limit';
    ok !exists $w->{pages}[-1]{next}, 'the last page has no next';
}

# resources added nearer than the cursor between pages: the walk still
# reaches every resource that was there (the new ones are behind it)
for my $case ([ 'a few', 3, 'ca' ], [ 'many', 12, 'cb' ]) {
    my ($name, $added, $p) = @$case;
    my @old = map { "$p-o$_" } 1 .. 6;
    put_res($old[$_ - 1], { type => 'car', location => { lat => 10 + $_ * 0.01, lon => 20 } }) for 1 .. 6;
    my $w = walk([ type => 'car', near => '10,20', limit => 1 ], sub {
        my ($n) = @_;
        return unless $n == 1;
        put_res("$p-n$_", { type => 'car', location => { lat => 10 + $_ * 0.0001, lon => 20 } }) for 1 .. $added;
    });
    my @seen_old = grep { /-o/ } @{ $w->{ids} };
    is_deeply \@seen_old, \@old, "near, limit=1, $name ($added) added nearer after page 1: every older resource is still reached"
        or diag explain $w->{pages};
    is_deeply dups(@{ $w->{ids} }), [], "... and nothing twice";
    ok !grep({ del_res($_)->{status} != 204 } @old, map { "$p-n$_" } 1 .. $added), "cleanup: DELETE 204";
}

# ---------------------------------------------------------------- paging

# 25 desks of 3 units, 4 at each of 7 points north of the center (ids
# mixed between points), so that ties by distance cross page boundaries
my @P = map { sprintf 'p-%02d', $_ } 0 .. 24;
my %ploc;
for my $i (0 .. 24) {
    $ploc{ $P[$i] } = [ $LAT + int(($i * 7 % 25) / 4) * 0.003, $LON ];    # 4 at each point
    put_res($P[$i], { type => 'desk', capacity => 3, title => "Desk $i",
                      location => { lat => $ploc{ $P[$i] }[0], lon => $ploc{ $P[$i] }[1] } });
}

sub desk_near_order {
    my (@ids) = @_;
    my %d = map { $_ => geodist($LAT, $LON, @{ $ploc{$_} }) } @ids;
    return [ sort { (sprintf('%.1f', $d{$a}) <=> sprintf('%.1f', $d{$b})) || $a cmp $b } @ids ];
}

my $w = walk([ type => 'desk', limit => 3 ]);
is $w->{error}, undef, 'limit=3: every page 200';
is_deeply $w->{ids}, \@P, 'limit=3: 25 desks, each exactly once, in id order';
ok !grep({ @{ $_->{items} } > 3 } @{ $w->{pages} }), 'no page holds more than 3';
ok @{ $w->{pages} } >= 9, 'at least 9 pages';

my $DS = hour($now, 6);
my @range = (from => iso($DS), to => iso($DS + 4 * 3600));

# two clients book and cancel one unit at a time on random desks meanwhile:
# never more than 2 of 3 units taken, so every desk keeps matching
my $stop = $t->dir . '/stop-churn';
my @churn = map {
    my $who = "churn-$_";
    BookingTest::bg(sub {
        my ($made, $bad) = (0, 0);
        my $deadline = time + 30;
        srand($$);
        until (-e $stop || time > $deadline) {
            my $res = $P[ int rand @P ];
            my $s = $DS + 1800 * int rand 6;
            my $b = book($who, { resource => $res, start => iso($s), end => iso($s + 3600),
                                 rand() < 0.5 ? (hold => JSON::PP::true) : () });
            if ($b->{status} != 201) { $bad++; next }
            $made++;
            $bad++ if act($who, $b->{json}{id}, 'cancel')->{status} != 200;
            if (open my $p, '>>', $t->dir . "/churn-$who") { print $p "x"; close $p }
        }
        return { made => $made, bad => $bad };
    });
} 1 .. 2;

sub churned { return (-s $t->dir . '/churn-churn-1' // 0) + (-s $t->dir . '/churn-churn-2' // 0) }
my $wait_until = time + 10;
sleep 0.01 while churned() < 10 && time < $wait_until;
ok churned() >= 10, 'the churn clients are booking and cancelling';

my ($rounds, @walk_bad, @near_bad, @q3_bad) = (0);
my $churn_from = churned();
my $t_end = time + 1.5;
while ($rounds < 3 || time < $t_end) {
    $rounds++;
    my $w = walk([ type => 'desk', @range, limit => 3 ]);
    push @walk_bad, { round => $rounds, error => $w->{error}, ids => $w->{ids} }
        if defined $w->{error} || join(',', @{ $w->{ids} }) ne join(',', @P);
    my $w2 = walk([ type => 'desk', @range, near => "$LAT,$LON", limit => 3 ]);
    push @near_bad, { round => $rounds, error => $w2->{error}, ids => $w2->{ids} }
        if defined $w2->{error} || join(',', @{ $w2->{ids} }) ne join(',', @{ desk_near_order(@P) });
    # quantity=3 needs every unit: desks drop in and out, but a walk never
    # shows one twice or out of order
    my $w3 = walk([ type => 'desk', @range, quantity => 3, near => "$LAT,$LON", limit => 3 ]);
    my %in = map { $_ => 1 } @{ $w3->{ids} };
    push @q3_bad, { round => $rounds, error => $w3->{error}, ids => $w3->{ids} }
        if defined $w3->{error} || @{ dups(@{ $w3->{ids} }) }
        || join(',', @{ $w3->{ids} }) ne join(',', grep { $in{$_} } @{ desk_near_order(@P) });
    last if $rounds >= 200;
}
my $churn_during = churned() - $churn_from;
is_deeply \@walk_bad, [], "$rounds walks with from/to, limit=3: every desk exactly once, in id order, while bookings come and go"
    or diag explain $walk_bad[0];
is_deeply \@near_bad, [], "$rounds walks with from/to, near, limit=3: every desk exactly once, nearest first, while bookings come and go"
    or diag explain $near_bad[0];
is_deeply \@q3_bad, [], "$rounds walks with quantity=3 while desks drop in and out: nothing twice, nearest first"
    or diag explain $q3_bad[0];
ok $churn_during >= 20, "bookings were made and cancelled during the walks ($churn_during)";
open my $fh, '>', $stop or die;
close $fh;
for my $c (@churn) {
    my $res = $c->result(20);
    ok ref $res eq 'HASH' && ($res->{made} // 0) > 5 && !$res->{bad},
        'a churn client made bookings and cancelled them all'
        or diag explain $res;
}

# deleting resources between pages: ahead of the cursor, behind it, and
# the very one the cursor points at
{
    my %gone;
    my @order = @P;
    my $w = walk([ type => 'desk', limit => 3 ], sub {
        my ($n, $seen) = @_;
        my %s = map { $_ => 1 } @$seen;
        my @ahead = grep { !$s{$_} && !$gone{$_} } @order;
        my @victims = ($seen->[-1], $seen->[0]);
        push @victims, $ahead[1] if @ahead > 1;
        for my $v (@victims) {
            next if $gone{$v};
            my $d = del_res($v);
            die "DELETE $v: $d->{status}" unless $d->{status} == 204;
            $gone{$v} = 1;
        }
    });
    is $w->{error}, undef, 'deletes between pages: every page 200';
    is_deeply dups(@{ $w->{ids} }), [], 'deletes between pages: nothing twice';
    my %seen = map { $_ => 1 } @{ $w->{ids} };
    is_deeply [ grep { !$seen{$_} && !$gone{$_} } @P ], [], 'deletes between pages: nothing still there is skipped';
    is_deeply $w->{ids}, [ sort @{ $w->{ids} } ], 'deletes between pages: still in id order';
    ok keys %gone >= 10, 'many were deleted during the walk';
    @P = grep { !$gone{$_} } @P;
}
{
    my %gone;
    my @order = @{ desk_near_order(@P) };
    my $w = walk([ type => 'desk', near => "$LAT,$LON", limit => 3 ], sub {
        my ($n, $seen) = @_;
        my %s = map { $_ => 1 } @$seen;
        my @ahead = grep { !$s{$_} && !$gone{$_} } @order;
        for my $v ($seen->[-1], @ahead > 1 ? $ahead[1] : ()) {
            next if $gone{$v};
            my $d = del_res($v);
            die "DELETE $v: $d->{status}" unless $d->{status} == 204;
            $gone{$v} = 1;
        }
    });
    is $w->{error}, undef, 'near, deletes between pages: every page 200';
    is_deeply dups(@{ $w->{ids} }), [], 'near, deletes between pages: nothing twice';
    my %seen = map { $_ => 1 } @{ $w->{ids} };
    is_deeply [ grep { !$seen{$_} && !$gone{$_} } @order ], [],
        'near, deletes between pages: nothing still there is skipped';
    is_deeply $w->{ids}, [ grep { $seen{$_} } @order ], 'near, deletes between pages: still nearest first';
    ok keys %gone >= 4, 'some were deleted during the walk';
}

# ---------------------------------------------------------------- cursors

put_res('fr-e', { type => 'room', capacity => 1 });    # five rooms: two pages of 3
my $p1 = list(type => 'room', limit => 3);
my $cur = $p1->{json}{next};
ok defined $cur && !ref $cur && length $cur, 'a first page of 3 rooms gives next';
is_deeply ids_of(list(type => 'room', limit => 3, cursor => $cur)), [qw(fr-d fr-e)], 'its cursor gives the rest';
BookingTest::error_is(list(type => 'car', limit => 3, cursor => $cur), 400, 'bad_request',
                      field => 'cursor', name => 'a cursor of another type: 400');
BookingTest::error_is(list(type => 'room', limit => 3, from => date($D), to => date($D + 86400), cursor => $cur),
                      400, 'bad_request', field => 'cursor', name => 'a cursor of a query without range used with one: 400');
my $rc = list(type => 'room', limit => 1, from => date($D), to => date($D + 6 * 86400))->{json}{next};
ok defined $rc, 'a ranged query gives next';
BookingTest::error_is(list(type => 'room', limit => 1, from => date($D), to => date($D + 5 * 86400), cursor => $rc),
                      400, 'bad_request', field => 'cursor', name => 'a cursor of another range: 400');
my $nc = list(type => 'spot', near => "$LAT,$LON", limit => 2)->{json}{next};
ok defined $nc, 'a near query gives next';
BookingTest::error_is(list(type => 'spot', near => "$LAT,-4.5", limit => 2, cursor => $nc), 400, 'bad_request',
                      field => 'cursor', name => 'a cursor of another near point: 400');
BookingTest::error_is(list(type => 'spot', limit => 2, cursor => $nc), 400, 'bad_request',
                      field => 'cursor', name => 'a near cursor without near: 400');
BookingTest::error_is(list(type => 'spot', near => "$LAT,$LON", radius => 7000, limit => 2, cursor => $nc), 400,
                      'bad_request', field => 'cursor', name => 'a cursor of another radius: 400');
for my $bad ('!!!!', 'Zm9vYmFy', 'x' x 700, substr($cur, 0, 6), MIME::Base64::encode_base64url("zzzzzzzz:1:0:fr-a"),
             $cur . '*') {
    BookingTest::error_is(list(type => 'room', limit => 3, cursor => $bad), 400, 'bad_request',
                          field => 'cursor', name => "a garbage cursor (" . substr($bad, 0, 20) . "): 400");
}

# ---------------------------------------------------------------- bounded scan

my @S = map { sprintf 's-%02d', $_ } 0 .. 59;
put_res($_, { type => 'tool', capacity => 1 }) for @S;
my $T0 = hour($now, 40);
my @tr = (from => iso($T0), to => iso($T0 + 2 * 3600));
my $booked = 0;
for my $id (@S[0 .. 54]) {
    $booked++ if book('scanner', { resource => $id, start => iso($T0), end => iso($T0 + 2 * 3600) })->{status} == 201;
}
is $booked, 55, '55 of the 60 tools booked over the range';

sub scan_walk {
    my ($limit) = @_;
    my (@ids, @pages, @cost);
    my $cursor;
    for (1 .. 100) {
        $t->redis('CONFIG', 'RESETSTAT');
        my $r = list(type => 'tool', @tr, limit => $limit, defined $cursor ? (cursor => $cursor) : ());
        my $st = commandstats();
        return { error => "$r->{status} $r->{body}" } unless $r->{status} == 200;
        push @pages, $r->{json};
        push @cost, [ $st->{fcall} // 0, $st->{zrangebylex} // 0 ];
        push @ids, @{ ids_of($r) };
        $cursor = $r->{json}{next};
        last unless defined $cursor;
    }
    return { ids => \@ids, pages => \@pages, cost => \@cost };
}

{
    my $s = scan_walk(5);
    is $s->{error}, undef, 'limit=5 over 60 tools: every page 200';
    my $first = $s->{pages}[0];
    ok @{ $first->{items} } < 5 && defined $first->{next},
        'the first page looks at 25 taken tools: fewer than 5 items, and next';
    is_deeply $s->{ids}, [ @S[55 .. 59] ], 'walking every page finds exactly the 5 free tools, once each';
    ok !grep({ @{ $_->{items} } > 5 } @{ $s->{pages} }), 'no page holds more than 5';
    is_deeply [ grep { $_->[0] > 25 || $_->[1] != 1 } @{ $s->{cost} } ], [],
        'each page: one ZRANGEBYLEX and at most min(5*limit, 200) = 25 candidates read'
        or diag explain $s->{cost};
    ok !exists $s->{pages}[-1]{next}, 'the last page has no next';
}
{
    my $s = scan_walk(1);
    is_deeply $s->{ids}, [ @S[55 .. 59] ], 'limit=1: the 5 free tools, once each';
    is_deeply [ grep { $_->[0] > 5 } @{ $s->{cost} } ], [], 'limit=1: at most 5 candidates read per page';
    ok @{ $s->{pages} } >= 12, 'limit=1: the 55 taken ones take at least 11 pages to pass';
}
{
    my $s = scan_walk(100);
    is scalar @{ $s->{pages} }, 1, 'limit=100: one page (200 candidates may be read)';
    is_deeply $s->{ids}, [ @S[55 .. 59] ], 'limit=100: the 5 free tools';
}

# half taken: the batch after the first is sized by the free share seen,
# so a page reads 16 + 6 candidates, not its whole bound of 50
my @A = map { sprintf 'alt-%02d', $_ } 0 .. 59;
put_res($_, { type => 'tool', capacity => 1 }) for @A;
my $half = 0;
for my $i (grep { $_ % 2 == 0 } 0 .. 59) {
    $half++ if book('scanner', { resource => $A[$i], start => iso($T0), end => iso($T0 + 2 * 3600) })
                   ->{status} == 201;
}
is $half, 30, 'every other one of 60 more tools booked over the range';
{
    $t->redis('CONFIG', 'RESETSTAT');
    my $r = list(type => 'tool', @tr, limit => 10);
    is $r->{status}, 200, 'a page over half-taken tools: 200';
    is_deeply ids_of($r), [ @A[ map { 2 * $_ + 1 } 0 .. 9 ] ], 'the first 10 free tools, in id order';
    ok defined $r->{json}{next}, 'and next';
    is commandstats()->{hmget}, 2 * (16 + 6),
        '16 candidates first (8 free), then (10 - 8) * 16 / 8 = 4 and a quarter more, plus one: 22 read '
        . '(each an HMGET of the resource and one of its counters)';
    is commandstats()->{fcall} // 0, 0, '... and no script: no hold is due';
}

# ---------------------------------------------------------------- timeless

put_res('gift-1', { type => 'gift', capacity => 5, title => 'Seeds' });
put_res('gift-2', { type => 'gift', capacity => 1, title => 'Lamp' });
my $gb = book('lister', { resource => 'gift-1', quantity => 2 });
is $gb->{status}, 201, 'take 2 of 5 seed packets';
is book('lister', { resource => 'gift-2', quantity => 1 })->{status}, 201, 'take the lamp';
$r = list(type => 'gift');
is $r->{status}, 200, 'timeless listing: 200';
is_deeply [ map { [ $_->{id}, $_->{free} ] } @{ $r->{json}{items} } ], [ [ 'gift-1', 3 ], [ 'gift-2', 0 ] ],
    'timeless items carry their current free stock, without from/to';
is act('lister', $gb->{json}{id}, 'cancel')->{status}, 200, 'give the seed packets back';
is_deeply [ map { [ $_->{id}, $_->{free} ] } @{ list(type => 'gift')->{json}{items} } ],
          [ [ 'gift-1', 5 ], [ 'gift-2', 0 ] ], 'the stock is back at once';

# ---------------------------------------------------------------- errors

my ($f, $to) = (date($D), date($D + 2 * 86400));
my @errors = (
    [ [],                                         400, 'type',     'no type' ],
    [ [ type => '' ],                             undef, 'type',   'empty type' ],
    [ [ type => 'boat' ],                         422, 'type',     'unknown type' ],
    [ [ type => 'room', from => $f ],             400, undef,      'from without to' ],
    [ [ type => 'room', to => $to ],              400, undef,      'to without from' ],
    [ [ type => 'room', from => 'tomorrow', to => $to ], 400, 'from', 'unparsable from' ],
    [ [ type => 'room', from => $f, to => '2026-13-45' ], 400, 'to', 'unparsable to' ],
    [ [ type => 'room', from => $to, to => $f ],  422, undef,      'to before from' ],
    [ [ type => 'room', from => $f, to => $f ],   422, undef,      'to equal to from' ],
    [ [ type => 'room', from => $f, to => date($D + 400 * 86400) ], 422, undef, 'a range over booking_max_range' ],
    [ [ type => 'gift', from => $f, to => $to ],  422, undef,      'a range on a timeless type' ],
    [ [ type => 'room', quantity => 0 ],          422, 'quantity', 'quantity 0' ],
    [ [ type => 'room', quantity => -1 ],         undef, 'quantity', 'quantity -1' ],
    [ [ type => 'room', quantity => 'two' ],      400, 'quantity', 'quantity not a number' ],
    [ [ type => 'room', quantity => '1.5' ],      400, 'quantity', 'quantity not whole' ],
    [ [ type => 'spot', near => '85.06,0' ],      422, 'near',     'near north of 85.05112878' ],
    [ [ type => 'spot', near => '-85.06,0' ],     422, 'near',     'near south of -85.05112878' ],
    [ [ type => 'spot', near => '0,180.5' ],      422, 'near',     'near east of 180' ],
    [ [ type => 'spot', near => '48' ],           400, 'near',     'near without lon' ],
    [ [ type => 'spot', near => 'a,b' ],          400, 'near',     'near not numbers' ],
    [ [ type => 'spot', near => '48,-4,1' ],      400, 'near',     'near with three numbers' ],
    [ [ type => 'spot', near => ',' ],            400, 'near',     'near empty numbers' ],
    [ [ type => 'spot', radius => 1000 ],         400, 'radius',   'radius without near' ],
    [ [ type => 'spot', near => '48,-4', radius => 0 ],       422, 'radius', 'radius 0' ],
    [ [ type => 'spot', near => '48,-4', radius => 1000001 ], 422, 'radius', 'radius over 1000 km' ],
    [ [ type => 'spot', near => '48,-4', radius => '5km' ],   400, 'radius', 'radius not a number' ],
    [ [ type => 'room', limit => 0 ],             422, 'limit',    'limit 0' ],
    [ [ type => 'room', limit => 101 ],           422, 'limit',    'limit 101' ],
    [ [ type => 'room', limit => 'all' ],         400, 'limit',    'limit not a number' ],
);
for my $e (@errors) {
    my ($q, $status, $field, $name) = @$e;
    my $r = list(@$q);
    if (!defined $status) {
        ok $r->{status} == 400 || $r->{status} == 422, "$name: 400 or 422" or diag $r->{body};
        next;
    }
    my $code = $status == 400 ? 'bad_request' : 'invalid';
    BookingTest::error_is($r, $status, $code, defined $field ? (field => $field) : (), name => "$name: $status");
}
for my $ok ([ near => '85.05112878,180' ], [ near => '-85.05112878,-180' ], [ near => '0,0', radius => 1 ],
            [ near => '0,0', radius => 1000000 ], [ limit => 1 ], [ limit => 100 ]) {
    is list(type => 'spot', @$ok)->{status}, 200, 'at the bound: ' . join('=', @$ok) . ': 200';
}
my $pr = $t->req(POST => '/api/resources', body => {});
is $pr->{status}, 405, 'POST /resources: 405';
like $pr->{headers}{allow} // '', qr/GET/, '... with Allow';

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;
