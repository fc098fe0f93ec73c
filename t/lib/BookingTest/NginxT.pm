package BookingTest::NginxT;

# What `nginx -t` said of a configuration (BookingTest::nginx_t), and the
# harness's nginx_t itself.

use strict;
use warnings;

sub ok   { $_[0]{ok} }
sub rc   { $_[0]{rc} }
sub out  { $_[0]{out} }
sub dir  { $_[0]{dir} }
sub file { $_[0]{file} }
sub conf { $_[0]{conf} }

sub line_of {
    my ($self, $re) = @_;
    my @l = split /\n/, $self->{conf};
    for my $i (0 .. $#l) {
        return $i + 1 if $l[$i] =~ $re;
    }
    return undef;
}

# ====================================================================


package BookingTest;

use File::Temp ();
use Time::HiRes qw(time sleep);

our ($SLOW, $NGINX, $VALGRIND, $ASAN, @DIRS);

# ---------------------------------------------------------------- nginx -t

# Runs "nginx -t" on a configuration and starts nothing.  Either conf =>
# TEXT (a whole nginx.conf) or http/server/main texts put in a generated one
# that loads the module.  Placeholders: %%DIR%% (a fresh temp dir, where
# files => {name => content} are written first), %%MODULE%% (the .so),
# %%PORT%%.  Returns {ok, rc, out, dir, file, conf}; line_of(qr//) gives the
# 1-based line of the configuration that matches.
sub nginx_t {
    my ($class, %o) = @_;
    my $keep = $ENV{BOOKING_KEEP} ? 1 : 0;
    my $dir = File::Temp::tempdir('ngx-booking-t-XXXXXX', TMPDIR => 1, CLEANUP => 0);
    push @DIRS, { dir => $dir, keep => $keep };
    for my $name (sort keys %{ $o{files} || {} }) {
        _spew("$dir/$name", $o{files}{$name});
    }
    my $port = free_port();
    my $conf = $o{conf};
    if (!defined $conf) {
        my @c = ("load_module %%MODULE%%;");
        push @c, "user root;" if $> == 0;
        push @c,
            "worker_processes 1;",
            "pid %%DIR%%/nginx.pid;",
            "error_log %%DIR%%/error.log;",
            $o{main} // (),
            "events { worker_connections 64; }",
            "http {",
            "    access_log off;",
            _indent($o{http} // '', 4),
            "    server {",
            "        listen 127.0.0.1:%%PORT%%;",
            _indent($o{server} // '', 8),
            "    }",
            "}";
        $conf = join("\n", @c) . "\n";
    }
    my $so = "$dir/ngx_http_booking_module.so";
    File::Copy::copy(module_path(), $so) or die "BookingTest: copy " . module_path() . ": $!\n";
    $conf =~ s/%%DIR%%/$dir/g;
    $conf =~ s/%%MODULE%%/$so/g;
    $conf =~ s/%%PORT%%/$port/g;
    _spew("$dir/nginx.conf", $conf);

    my $pid = _spawn(
        cmd    => [ $NGINX, '-t', '-p', "$dir/", '-c', "$dir/nginx.conf",
                    '-e', "$dir/err.log" ],
        stderr => "$dir/nginx-t.out",
        env    => { _sanitizer_env($dir) },
    );
    my $rc;
    {
        local $?;
        my $deadline = time + 30 * $SLOW;
        while (1) {
            my $r = waitpid($pid, WNOHANG);
            if ($r == $pid) { $rc = $? >> 8; last }
            if (time > $deadline) { kill 'KILL', $pid; waitpid($pid, 0); $rc = -1; last }
            sleep 0.01;
        }
    }
    return bless {
        ok   => $rc == 0,
        rc   => $rc,
        out  => _slurp("$dir/nginx-t.out"),
        dir  => $dir,
        file => "$dir/nginx.conf",
        conf => $conf,
    }, 'BookingTest::NginxT';
}

1;
