# JWT identity (SPEC §5, issue 16 item 1): booking_jwt on | optional with
# a JWKS, tokens minted by an implementation that is not ours (Debian's
# python3-jwt, t/lib/jwt_mint.py), for every algorithm and every refusal:
#
# - HS256/384/512, RS256/384/512, PS256/384/512, ES256, ES384 and EdDSA
#   each make a booking whose user is the token's sub;
# - refused with 401 unauthenticated and an RFC 6750 challenge: alg none,
#   an HMAC made with the RSA key's public PEM (algorithm confusion), an
#   algorithm the key is not for (its kty, its curve, its own alg), an
#   unknown kid (even when the signature is that of a known key), no kid
#   with several keys, a key for encryption, a changed payload, no exp, an
#   expired token, nbf or iat in the future, another issuer or audience
#   (or any aud when booking_jwt_audience is not set),
#   no sub, groups with a comma in a name, malformed tokens;
# - the leeway lets exp, nbf and iat be 30 s off;
# - on: booking_user (X-User-Id) is ignored, operations that need a user
#   answer 401 with the bare Bearer challenge, reads stay open;
#   optional: no token is a guest, a bad token is 401 all the same (on
#   never takes a guest, even with booking_anonymous on);
# - groups from an array or a comma-separated string open a resource of
#   those groups, and none other;
# - a token verified once (cached) is refused after its exp;
# - nginx -t refuses a broken key file, and booking_jwt without keys; a
#   reload reads a new key file (old tokens refused, new accepted).

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use File::Temp ();
use FindBin ();
use Time::HiRes qw(time sleep);
use BookingTest;
use BookingRace qw(:all);

BookingRace::pin_module();

my $PY = '/usr/bin/python3';
my $MINT = "$FindBin::Bin/lib/jwt_mint.py";
my $keys = File::Temp::tempdir('ngx-booking-jwt-XXXXXX', TMPDIR => 1, CLEANUP => 1);
system($PY, $MINT, 'keys', $keys) == 0 or BAIL_OUT("jwt_mint.py keys failed (python3-jwt?)");

sub slurp { local (@ARGV, $/) = @_; return scalar <> }

# tokens for a list of {key, alg, claims, header, forge}, in one python run
sub mint {
    my @reqs = @_;
    my $json = JSON::PP->new->canonical->encode(\@reqs);
    my $in = "$keys/req.json";
    open my $fh, '>', $in or die $!;
    print $fh $json;
    close $fh;
    my $out = `$PY $MINT mint $keys < $in`;
    die "jwt_mint.py mint failed\n" if $?;
    return @{ JSON::PP->new->decode($out) };
}

my $ISS = 'https://auth.example.org';
my $HTTP = default_http() . <<"EOT";
booking_user_groups \$http_x_user_groups;
booking_jwt_keys $keys/jwks.json;
booking_jwt_issuer $ISS;
booking_jwt_audience booking;
booking_jwt_leeway 30s;
booking_jwt_claims user=sub groups=groups;
EOT
my $SERVER = <<'EOT';
large_client_header_buffers 4 16k;
location /api/ { booking_api; booking_jwt on; }
location /opt/ { booking_api; booking_jwt optional; booking_anonymous on; }
location /onanon/ { booking_api; booking_jwt on; booking_anonymous on; }
location /plain/ { booking_api; }
location /admin/ { booking_api admin; }
EOT
my $t = BookingTest->new(http => $HTTP, server => $SERVER);

for my $res ([ 'gift-1', {} ], [ 'club-1', { groups => ['members'] } ]) {
    my $r = $t->req(PUT => "/admin/resources/$res->[0]",
                    body => { type => 'gift', capacity => 1000, owner => 'olga', %{ $res->[1] } });
    is $r->{status}, 201, "PUT $res->[0]" or diag $r->{body};
}

my $now = time;
my %GOOD = (iss => $ISS, aud => 'booking', exp => int($now) + 600, iat => int($now));
sub claims { return { %GOOD, sub => 'ann', @_ } }

sub bearer { return { Authorization => "Bearer $_[0]", %{ $_[1] || {} } } }

sub hold {
    my ($token, %o) = @_;
    my $prefix = $o{prefix} // '/api/';
    return $t->req(POST => "${prefix}bookings",
                   body => { resource => $o{resource} // 'gift-1', $o{hold} ? (hold => JSON::PP::true) : () },
                   headers => defined $token ? bearer($token, $o{headers}) : ($o{headers} || {}));
}

sub challenge {
    my ($r) = @_;
    my $h = $r->{headers}{'www-authenticate'} // '';
    return ref $h ? $h->[0] : $h;
}

sub refused {
    my ($r, $why, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    BookingTest::error_is($r, 401, 'unauthenticated', name => "$name: 401 unauthenticated");
    like challenge($r), qr/^Bearer realm="booking", error="invalid_token", error_description="\Q$why\E"$/,
        "$name: WWW-Authenticate names invalid_token ($why)";
}

# ---------------------------------------------------------------- every algorithm

my @algs = (
    [ hs => 'HS256' ], [ hs => 'HS384' ], [ hs => 'HS512' ],
    [ rs => 'RS256' ], [ rs => 'RS384' ], [ rs => 'RS512' ],
    [ rs => 'PS256' ], [ rs => 'PS384' ], [ rs => 'PS512' ],
    [ rs512 => 'RS512' ],
    [ es256 => 'ES256' ], [ es384 => 'ES384' ], [ ed => 'EdDSA' ],
);
my @tokens = mint(map { { key => $_->[0], alg => $_->[1], header => { kid => $_->[0] },
                          claims => claims(sub => "user-$_->[1]-$_->[0]") } } @algs);
for my $i (0 .. $#algs) {
    my ($kid, $alg) = @{ $algs[$i] };
    my $r = hold($tokens[$i]);
    is $r->{status}, 201, "$alg with key $kid: 201" or diag $r->{body};
    is $r->{json}{user}, "user-$alg-$kid", "$alg: the booking's user is the token's sub";
}

# ---------------------------------------------------------------- refusals

my @bad = (
    [ 'alg none', "the token's algorithm is not accepted",
      { forge => 'none', header => { kid => 'rs' }, claims => claims() } ],
    [ 'HS256 made with the RSA public key (algorithm confusion)',
      "the token's algorithm does not fit its key",
      { forge => 'hs-pem', header => { kid => 'rs' }, claims => claims() } ],
    [ 'ES256 token naming the RSA key', "the token's algorithm does not fit its key",
      { key => 'es256', alg => 'ES256', header => { kid => 'rs' }, claims => claims() } ],
    [ 'ES384 token naming the P-256 key', "the token's algorithm does not fit its key",
      { key => 'es384', alg => 'ES384', header => { kid => 'es256' }, claims => claims() } ],
    [ 'RS256 with a key whose alg is RS512', "the token's algorithm does not fit its key",
      { key => 'rs512', alg => 'RS256', header => { kid => 'rs512' }, claims => claims() } ],
    [ 'unknown kid, signed by a known key', "the token's key is unknown",
      { key => 'es256', alg => 'ES256', header => { kid => 'nope' }, claims => claims() } ],
    [ 'a key for encryption (use enc)', "the token's key is unknown",
      { key => 'enc', alg => 'RS256', header => { kid => 'enc' }, claims => claims() } ],
    [ 'no kid with several keys', "the token names no key",
      { key => 'es256', alg => 'ES256', claims => claims() } ],
    [ 'payload changed after signing', "the token's signature does not verify",
      { forge => 'tamper', key => 'es256', alg => 'ES256', header => { kid => 'es256' },
        claims => claims() } ],
    [ 'signed by another key of the same kind', "the token's signature does not verify",
      { key => 'rs512', alg => 'RS256', header => { kid => 'rs' }, claims => claims() } ],
    [ 'no exp', "the token has no valid exp",
      { key => 'hs', alg => 'HS256', header => { kid => 'hs' },
        claims => do { my $c = claims(); delete $c->{exp}; $c } } ],
    [ 'exp as a string', "the token has no valid exp",
      { key => 'hs', alg => 'HS256', header => { kid => 'hs' }, claims => claims(exp => "9999999999") } ],
    [ 'expired beyond the leeway', "the token is expired",
      { key => 'ed', alg => 'EdDSA', header => { kid => 'ed' }, claims => claims(exp => int($now) - 40) } ],
    [ 'nbf beyond the leeway', "the token is not valid yet",
      { key => 'ed', alg => 'EdDSA', header => { kid => 'ed' }, claims => claims(nbf => int($now) + 120) } ],
    [ 'iat beyond the leeway', "the token is not valid yet",
      { key => 'ed', alg => 'EdDSA', header => { kid => 'ed' }, claims => claims(iat => int($now) + 120) } ],
    [ 'another issuer', "the token's issuer is not accepted",
      { key => 'es256', alg => 'ES256', header => { kid => 'es256' }, claims => claims(iss => 'https://evil.example') } ],
    [ 'no issuer', "the token's issuer is not accepted",
      { key => 'es256', alg => 'ES256', header => { kid => 'es256' },
        claims => do { my $c = claims(); delete $c->{iss}; $c } } ],
    [ 'another audience', "the token's audience is not accepted",
      { key => 'es256', alg => 'ES256', header => { kid => 'es256' }, claims => claims(aud => [ 'shop', 'mail' ]) } ],
    [ 'no sub', "the token names no valid user",
      { key => 'hs', alg => 'HS256', header => { kid => 'hs' },
        claims => do { my $c = claims(); delete $c->{sub}; $c } } ],
    [ 'a group name with a comma', "the token's groups are not valid",
      { key => 'hs', alg => 'HS256', header => { kid => 'hs' }, claims => claims(groups => [ 'a,b' ]) } ],
    [ 'groups as a number', "the token's groups are not valid",
      { key => 'hs', alg => 'HS256', header => { kid => 'hs' }, claims => claims(groups => 7) } ],
    [ 'a critical extension', "the token has critical extensions",
      { key => 'hs', alg => 'HS256', header => { kid => 'hs', crit => ['exp'], exp => 1 }, claims => claims() } ],
);
my @bt = mint(map { $_->[2] } @bad);
for my $i (0 .. $#bad) {
    my $r = hold($bt[$i]);
    refused($r, $bad[$i][1], $bad[$i][0]);
    unlike $r->{body}, qr/BEGIN|"k"|-----/, "$bad[$i][0]: nothing of a key in the answer";
}

my ($good) = mint({ key => 'es256', alg => 'ES256', header => { kid => 'es256' }, claims => claims() });
my ($h, $p, $s) = split /\./, $good;
for my $m ([ 'two parts', "$h.$p" ], [ 'four parts', "$good.x" ], [ 'not base64url', "$h.$p.\@\@\@" ],
           [ 'padded', "$h.$p.$s==" ], [ 'garbage', 'abc' ],
           [ 'longer than 8 KB', "$h." . ('A' x 9000) . ".$s" ]) {
    refused(hold($m->[1]), 'the token is malformed', "malformed: $m->[0]");
}

# ---------------------------------------------------------------- leeway and aud

my @lee = mint(
    { key => 'hs', alg => 'HS512', header => { kid => 'hs' }, claims => claims(sub => 'lee1', exp => int($now) - 10) },
    { key => 'hs', alg => 'HS512', header => { kid => 'hs' }, claims => claims(sub => 'lee2', nbf => int($now) + 10) },
    { key => 'hs', alg => 'HS512', header => { kid => 'hs' }, claims => claims(sub => 'lee3', aud => [ 'shop', 'booking' ]) },
);
is hold($lee[0])->{status}, 201, 'exp 10 s ago is within the 30 s leeway';
is hold($lee[1])->{status}, 201, 'nbf 10 s ahead is within the leeway';
is hold($lee[2])->{status}, 201, 'an aud array that holds "booking" is accepted';

# ---------------------------------------------------------------- on and optional

my $r = hold(undef, headers => user_h('ann'));
BookingTest::error_is($r, 401, 'unauthenticated', name => 'on: X-User-Id is ignored, no token is no user: 401');
is challenge($r), 'Bearer realm="booking"', 'on: no token, so the challenge has no error (RFC 6750 3.1)';
$r = $t->req(GET => '/api/resources/gift-1');
is $r->{status}, 200, 'on: a read that needs no user is open without a token';
refused($t->req(GET => '/api/resources/gift-1', headers => bearer('abc')), 'the token is malformed',
        'on: a bad token on an open read');

$r = hold(undef, prefix => '/onanon/', hold => 1);
BookingTest::error_is($r, 401, 'unauthenticated',
                      name => 'on with booking_anonymous on: still no guest without a token');

$r = hold(undef, prefix => '/opt/', headers => user_h('ann'));
BookingTest::error_is($r, 401, 'unauthenticated', name => 'optional: no token is a guest, who may only hold');
is challenge($r), 'Bearer realm="booking"', 'optional: the bare challenge';
$r = hold(undef, prefix => '/opt/', headers => user_h('ann'), hold => 1);
is $r->{status}, 201, 'optional: no token is a guest (booking_anonymous on): a hold' or diag $r->{body};
ok !defined $r->{json}{user}, 'optional: the guest has no user, X-User-Id is ignored';
refused(hold('abc', prefix => '/opt/'), 'the token is malformed', 'optional: a bad token');
$r = hold($good, prefix => '/opt/');
is $r->{status}, 201, 'optional: a good token';
is $r->{json}{user}, 'ann', 'optional: its user';

$r = hold($good, prefix => '/plain/', headers => user_h('bob'));
is $r->{json}{user}, 'bob', 'a location without booking_jwt takes booking_user as before';
ok !exists $r->{headers}{'www-authenticate'}, 'and sends no challenge';

# the token's user owns the booking: another token's user does not see it
my $id = hold($good)->{json}{id};
my ($other) = mint({ key => 'es256', alg => 'ES256', header => { kid => 'es256' }, claims => claims(sub => 'bob') });
is $t->req(GET => "/api/bookings/$id", headers => bearer($good))->{status}, 200, "ann reads her booking";
is $t->req(GET => "/api/bookings/$id", headers => bearer($other))->{status}, 404, "bob does not see it";

# ---------------------------------------------------------------- groups

my @g = mint(
    { key => 'hs', alg => 'HS256', header => { kid => 'hs' }, claims => claims(sub => 'g1', groups => [ 'staff', 'members' ]) },
    { key => 'hs', alg => 'HS256', header => { kid => 'hs' }, claims => claims(sub => 'g2', groups => 'staff, members') },
    { key => 'hs', alg => 'HS256', header => { kid => 'hs' }, claims => claims(sub => 'g3', groups => ['staff']) },
    { key => 'hs', alg => 'HS256', header => { kid => 'hs' }, claims => claims(sub => 'g4') },
);
is hold($g[0], resource => 'club-1')->{status}, 201, 'groups as an array open a members-only resource';
is hold($g[1], resource => 'club-1')->{status}, 201, 'groups as a comma-separated string too';
BookingTest::error_is(hold($g[2], resource => 'club-1'), 403, 'forbidden', name => 'other groups: 403');
BookingTest::error_is(hold($g[3], resource => 'club-1'), 403, 'forbidden', name => 'no groups: 403');
BookingTest::error_is(hold($g[3], resource => 'club-1', headers => { 'X-User-Groups' => 'members' }),
                      403, 'forbidden', name => 'booking_user_groups is ignored under booking_jwt');

# ---------------------------------------------------------------- cached, then expired

# exp - leeway is 3 s ahead: accepted (and cached by the worker), then refused
my ($short) = mint({ key => 'rs', alg => 'RS256', header => { kid => 'rs' },
                     claims => claims(sub => 'brief', exp => int(time) - 30 + 3) });
my $ok = 0;
$ok += hold($short)->{status} == 201 for 1 .. 4;
is $ok, 4, 'a token about to expire: accepted 4 times (both workers, from their caches)';
sleep 4.2;
refused(hold($short), 'the token is expired', 'the same token after its exp (cached or not)');

# ---------------------------------------------------------------- one key: no kid needed

$t->reload_nginx(http => default_http() . "booking_jwt_keys $keys/one.json;\n");
my ($nokid) = mint({ key => 'es256', alg => 'ES256', claims => { sub => 'solo', exp => int(time) + 600 } });
$r = hold($nokid);
is $r->{status}, 201, 'after a reload to a file of one key: a token without kid verifies';
is $r->{json}{user}, 'solo', 'its user';
refused(hold($good), "the token's key is unknown", 'a token naming a kid the new file lacks');
my ($aud) = mint({ key => 'es256', alg => 'ES256', claims => { sub => 'solo', exp => int(time) + 600,
                                                               aud => 'payments' } });
refused(hold($aud), "the token's audience is not accepted",
        'no booking_jwt_audience: a token meant for some audience (RFC 7519 4.1.3)');
refused(hold($tokens[0]), "the token's key is unknown", 'the old HMAC key is gone after the reload');

# ---------------------------------------------------------------- nginx -t

for my $case (
    [ 'bad-rsa1024', qr/fewer than 2048 bits/ ],
    [ 'bad-dupkid',  qr/two keys of kid "k"/ ],
    [ 'bad-curve',   qr/not on its curve/ ],
    [ 'bad-short',   qr/shorter than its hash/ ],
    [ 'bad-algkty',  qr/alg RS256 is not for kty EC/ ],
    [ 'bad-none',    qr/no key that can verify/ ],
) {
    my $n = BookingTest->nginx_t(http => "booking_type gift slot=none;\nbooking_jwt_keys %%DIR%%/k.json;",
                                 server => 'location /api/ { booking_api; booking_jwt on; }',
                                 files => { 'k.json' => slurp("$keys/$case->[0].json") });
    ok !$n->ok, "nginx -t refuses $case->[0]";
    like $n->out, $case->[1], "$case->[0]: the message says why";
}
my $n = BookingTest->nginx_t(http => "booking_type gift slot=none;\nbooking_jwt_keys %%DIR%%/k.json;",
                             server => 'location /api/ { booking_api; booking_jwt on; }',
                             files => { 'k.json' => '{"keys": [' });
ok !$n->ok, 'nginx -t refuses a key file that is not JSON';
like $n->out, qr/not JSON/, 'and says so';
$n = BookingTest->nginx_t(http => "booking_type gift slot=none;",
                          server => 'location /api/ { booking_api; booking_jwt on; }');
ok !$n->ok, 'nginx -t refuses booking_jwt without booking_jwt_keys';
like $n->out, qr/"booking_jwt" needs "booking_jwt_keys"/, 'and says so';
$n = BookingTest->nginx_t(http => "booking_type gift slot=none;\nbooking_jwt_keys %%DIR%%/k.json;",
                          server => 'location /api/ { booking_api; booking_jwt on; }',
                          files => { 'k.json' => slurp("$keys/jwks.json") });
ok $n->ok, 'nginx -t accepts the JWKS of every kind' or diag $n->out;

$t->check_error_log;
done_testing;
