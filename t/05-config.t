# nginx -t: every wrong booking_* value is rejected with a message that
# names the directive, the file and the line (SPEC §3), and the example
# configuration of SPEC §3 is accepted.

use strict;
use warnings;
use Test::More;
use BookingTest;

my $BASE_SERVER = 'location /api/ { booking_api; }';

# Module bug (reported): the messages of booking_type, the *_file
# directives and booking_id_pattern give the file and the line but never
# the directive's name (booking_redis's now do).
my $NO_NAME = 'module bug: the [emerg] message does not name the directive';

# name, directive, http text, server text, regex of the offending line,
# files, todo for the "names the directive" check, todo for the rejection
my @bad = (
    [ 'booking_type without slot=', 'booking_type',
      'booking_type car hold=10m;', undef, qr/booking_type car/, undef, $NO_NAME ],
    [ 'booking_type without any option', 'booking_type',
      'booking_type car;', undef, qr/booking_type car/ ],
    [ 'slot=0', 'booking_type',
      'booking_type car slot=0;', undef, qr/booking_type car/, undef, $NO_NAME ],
    [ 'slot=abc', 'booking_type',
      'booking_type car slot=abc;', undef, qr/booking_type car/, undef, $NO_NAME ],
    [ 'buffer not a multiple of slot', 'booking_type',
      'booking_type car slot=1h buffer=30m;', undef, qr/booking_type car/, undef, $NO_NAME ],
    [ 'min not a multiple of slot', 'booking_type',
      'booking_type car slot=1h min=90m;', undef, qr/booking_type car/, undef, $NO_NAME ],
    [ 'max not a multiple of slot', 'booking_type',
      'booking_type car slot=1h max=90m;', undef, qr/booking_type car/, undef, $NO_NAME ],
    [ 'max < min', 'booking_type',
      'booking_type car slot=1h min=2h max=1h;', undef, qr/booking_type car/, undef, $NO_NAME ],
    [ 'unknown option', 'booking_type',
      'booking_type car slot=1h colour=red;', undef, qr/booking_type car/, undef, $NO_NAME ],
    [ 'duplicate option', 'booking_type',
      'booking_type car slot=1h hold=10m hold=20m;', undef, qr/booking_type car/, undef, $NO_NAME ],
    [ 'duplicate type', 'booking_type',
      "booking_type car slot=1h;\nbooking_type room slot=1d;\nbooking_type car slot=2h;",
      undef, qr/booking_type car slot=2h/, undef, $NO_NAME ],
    [ 'slot=none with min=', 'booking_type',
      'booking_type gift slot=none min=1d;', undef, qr/booking_type gift/, undef, $NO_NAME ],
    [ 'bad type name', 'booking_type',
      'booking_type "Big Car" slot=1h;', undef, qr/booking_type "Big Car"/, undef, $NO_NAME ],
    [ 'approval=maybe', 'booking_type',
      'booking_type couch slot=1d approval=maybe;', undef, qr/booking_type couch/, undef, $NO_NAME ],
    [ 'max_active=0', 'booking_type',
      'booking_type car slot=1h max_active=0;', undef, qr/booking_type car/, undef, $NO_NAME ],
    [ 'repeat_max=0', 'booking_type',
      'booking_type desk slot=1h repeat_max=0;', undef, qr/booking_type desk/, undef, $NO_NAME ],
    [ 'repeat_max=201', 'booking_type',
      'booking_type desk slot=1h repeat_max=201;', undef, qr/booking_type desk/, undef, $NO_NAME ],
    [ 'hold_max below hold', 'booking_type',
      'booking_type car slot=1h hold=10m hold_max=5m;', undef, qr/booking_type car/, undef,
      $NO_NAME ],
    [ 'booking_redis_connections 0', 'booking_redis_connections',
      'booking_redis_connections 0;', undef, qr/booking_redis_connections/ ],
    [ 'booking_redis_connections 65', 'booking_redis_connections',
      'booking_redis_connections 65;', undef, qr/booking_redis_connections/ ],
    [ 'booking_redis_timeout 0 (every command would time out)', 'booking_redis_timeout',
      'booking_redis_timeout 0;', undef, qr/booking_redis_timeout/ ],
    [ 'booking_redis_database -1', 'booking_redis_database',
      'booking_redis_database -1;', undef, qr/booking_redis_database/ ],
    [ 'booking_redis bad address', 'booking_redis',
      'booking_redis "not a host:port";', undef, qr/booking_redis "not/ ],
    [ 'booking_redis port out of range', 'booking_redis',
      'booking_redis 127.0.0.1:99999;', undef, qr/booking_redis 127/ ],
    [ 'booking_redis_sentinel without a sentinel', 'booking_redis_sentinel',
      'booking_redis_sentinel mymaster;', undef, qr/booking_redis_sentinel/ ],
    [ 'booking_redis_sentinel bad address', 'booking_redis_sentinel',
      'booking_redis_sentinel mymaster 127.0.0.1:26379 "not a host:port";', undef,
      qr/booking_redis_sentinel/ ],
    [ 'booking_redis and booking_redis_sentinel', 'booking_redis_sentinel',
      "booking_redis 127.0.0.1:6379;\nbooking_redis_sentinel mymaster 127.0.0.1:26379;",
      undef, qr/booking_redis_sentinel/ ],
    [ 'booking_redis_cluster without a node', 'booking_redis_cluster',
      'booking_redis_cluster;', undef, qr/booking_redis_cluster/ ],
    [ 'booking_redis_cluster bad address', 'booking_redis_cluster',
      'booking_redis_cluster 127.0.0.1:7000 "not a host:port";', undef,
      qr/booking_redis_cluster/ ],
    [ 'booking_redis and booking_redis_cluster', 'booking_redis_cluster',
      "booking_redis 127.0.0.1:6379;\nbooking_redis_cluster 127.0.0.1:7000;",
      undef, qr/booking_redis_cluster/ ],
    [ 'booking_redis_cluster and booking_redis_sentinel', 'booking_redis_sentinel',
      "booking_redis_cluster 127.0.0.1:7000;\nbooking_redis_sentinel m 127.0.0.1:26379;",
      undef, qr/booking_redis_sentinel/ ],
    [ 'booking_redis_replicas 17', 'booking_redis_replicas',
      'booking_redis_replicas 17;', undef, qr/booking_redis_replicas/ ],
    [ 'booking_redis_replicas one', 'booking_redis_replicas',
      'booking_redis_replicas one;', undef, qr/booking_redis_replicas/ ],
    [ 'booking_redis_replicas timeout=0', 'booking_redis_replicas',
      'booking_redis_replicas 1 timeout=0;', undef, qr/booking_redis_replicas/ ],
    [ 'booking_redis_replicas wait=1s', 'booking_redis_replicas',
      'booking_redis_replicas 1 wait=1s;', undef, qr/booking_redis_replicas/ ],
    [ 'booking_redis_replicas twice', 'booking_redis_replicas',
      "booking_redis_replicas 0;\nbooking_redis_replicas 0 timeout=1s;", undef,
      qr/booking_redis_replicas 0 timeout/ ],
    [ 'booking_redis_password_file missing', 'booking_redis_password_file',
      'booking_redis_password_file %%DIR%%/no-such.pass;', undef,
      qr/booking_redis_password_file/, undef, $NO_NAME ],
    [ 'booking_redis_password_file empty', 'booking_redis_password_file',
      'booking_redis_password_file %%DIR%%/empty.pass;', undef,
      qr/booking_redis_password_file/, { 'empty.pass' => "\n" }, $NO_NAME ],
    [ 'booking_secret_file under 16 bytes', 'booking_secret_file',
      'booking_secret_file %%DIR%%/short.secret;', undef,
      qr/booking_secret_file/, { 'short.secret' => "fifteen-bytes!!\n" }, $NO_NAME ],
    [ 'booking_id_pattern "("', 'booking_id_pattern',
      'booking_id_pattern "(";', undef, qr/booking_id_pattern/, undef, $NO_NAME ],
    [ 'booking_max_range 0', 'booking_max_range',
      'booking_max_range 0;', undef, qr/booking_max_range/ ],
    [ 'booking_cache without zone=', 'booking_cache',
      'booking_cache valid=1s;', undef, qr/booking_cache/ ],
    [ 'booking_api foo', 'booking_api',
      undef, "location /x/ { booking_api foo; }", qr/booking_api foo/ ],
    [ 'booking_api twice in one location', 'booking_api',
      undef, "location /x/ {\n    booking_api;\n    booking_api admin;\n}", qr/booking_api admin/ ],
);

# The generator itself must produce a valid configuration, or every
# rejection below would prove nothing.
{
    my $r = BookingTest->nginx_t(
        http   => "booking_type car slot=1h;\nbooking_redis 127.0.0.1:6379;",
        server => $BASE_SERVER,
        files  => { 'ok.pass' => "pw\n" },
    );
    ok $r->ok, 'baseline configuration is accepted' or diag $r->out;
    like $r->out, qr/test is successful/, 'baseline: nginx -t says successful';
}

for my $case (@bad) {
    my ($name, $directive, $http, $server, $line_re, $files, $todo, $todo_all) = @$case;
    my $r = BookingTest->nginx_t(
        http   => $http // '',
        server => defined $server ? "$BASE_SERVER\n$server" : $BASE_SERVER,
        files  => $files,
    );
    my $line = $r->line_of($line_re);
    ok defined $line, "$name: the offending line is in the generated conf";
    $line //= 0;
    ok !$r->ok, "$name: nginx -t fails" or diag $r->conf;
    my ($emerg) = $r->out =~ /^(.*\[emerg\].*)$/m;
    ok defined $emerg, "$name: an [emerg] message" or diag $r->out;
    $emerg //= '';
    like $emerg, qr/ in \Q${\ $r->file }\E:$line$/, "$name: names the file and line $line";
    like $emerg, qr/\b\Q$directive\E\b/, "$name: names the directive $directive";
}

# a cluster has database 0 only: said when the http block is done, since
# the two directives may come in either order
for my $order ([ 'cluster first', "booking_redis_cluster 127.0.0.1:7000;\nbooking_redis_database 2;" ],
               [ 'database first', "booking_redis_database 2;\nbooking_redis_cluster 127.0.0.1:7000;" ]) {
    my $r = BookingTest->nginx_t(http => "booking_type car slot=1h;\n$order->[1]", server => $BASE_SERVER);
    ok !$r->ok, "booking_redis_cluster with booking_redis_database 2 ($order->[0]): nginx -t fails";
    like $r->out, qr/\[emerg\].*booking_redis_database must be 0 with booking_redis_cluster/,
        '... and says why';
}
{
    my $r = BookingTest->nginx_t(http => "booking_type car slot=1h;\n"
                                         . "booking_redis_cluster 127.0.0.1:7000 [::1]:7001;\n"
                                         . "booking_redis_database 0;", server => $BASE_SERVER);
    ok $r->ok, 'booking_redis_cluster with seeds, database 0: accepted' or diag $r->out;
}

# --- SPEC §3, with paths adapted to temp files; allow/deny kept.  The
# example has no events{} block, which nginx needs, and no listen (port 80
# is fine for -t, which binds nothing).
my $example = <<'EOT';
load_module %%MODULE%%;
pid %%DIR%%/nginx.pid;
error_log %%DIR%%/error.log;
events { worker_connections 64; }

http {
    booking_redis 127.0.0.1:6379;          # or unix:/run/redis/redis.sock
    booking_redis_password_file %%DIR%%/redis.pass;   # optional
    booking_redis_database 0;
    booking_redis_timeout 250ms;           # per command; past it: 504
    booking_redis_connections 2;           # per worker, pipelined

    #            name  slot  hold  min  max  buffer lead horizon approval
    booking_type room  slot=1d hold=15m min=1d max=30d horizon=365d;
    booking_type car   slot=1h hold=10m min=1h max=14d buffer=1h lead=2h;
    booking_type desk  slot=30m hold=5m max=1d;
    booking_type ride  slot=15m hold=10m;
    booking_type couch slot=1d approval=on hold=48h max=7d;
    booking_type gift  slot=none hold=1d;

    booking_user $http_x_user_id;          # who the caller is (any variable)
    booking_user_groups $http_x_user_groups;   # comma separated, optional
    booking_secret_file %%DIR%%/booking.secret;  # signs hold tokens
    booking_anonymous off;                 # on: guests may hold (token only)
    booking_id_pattern "^[A-Za-z0-9_-]{1,64}$";   # PCRE2, for resource ids
    booking_max_range 366d;                # longest range a read may ask
    booking_cache zone=bkcache:32m valid=1s;   # micro-cache for anonymous reads

    server {
        location /api/   { booking_api; }                 # public API
        location /admin/ { allow 10.0.0.0/8; deny all;    # nginx's own
                           booking_api admin; }           # access control
        location = /booking_status { booking_status; }    # metrics
    }
}
EOT
$example = "user root;\n$example" if $> == 0;
{
    my $r = BookingTest->nginx_t(
        conf  => $example,
        files => {
            'redis.pass'     => "correct horse battery staple\n",
            'booking.secret' => "0123456789abcdef0123456789abcdef\n",
        },
    );
    ok $r->ok, 'the example configuration of SPEC §3 is accepted' or diag $r->out;
    unlike $r->out, qr/\[(?:emerg|alert|crit|warn)\]/, 'example: no warning either';
}

done_testing;
