#!/usr/bin/perl
# The layering check (README, "Layout"): the module's C files depend one
# way, module -> http -> ops -> {view, store} -> core.  It fails when a
# file includes a header of a layer above it, or calls a function only a
# layer above it defines (view and store, side by side, neither), or when
# files call each other in a circle.  Usage: perl tests/layers.pl [ROOT]

use strict;
use warnings;
use File::Find ();

my $root = shift // '.';

# what each layer may depend on, itself included
my %below = (
    core   => [qw(core)],
    store  => [qw(store core)],
    view   => [qw(view core)],
    ops    => [qw(ops view store core)],
    http   => [qw(http ops view store core)],
    module => [qw(module http ops view store core)],
);

my %header = (
    'ngx_booking_core.h'     => 'core',
    'ngx_booking_contract.h' => 'core',
    'ngx_booking_metrics.h'  => 'core',
    'ngx_booking_jwt.h'      => 'core',
    'ngx_booking_tz.h'       => 'core',
    'ngx_booking_reply.h'    => 'store',
    'ngx_booking_store.h'    => 'store',
    'ngx_booking_redis.h'    => 'store',
    'ngx_booking_scripts.h'  => 'store',
    'ngx_booking_view.h'     => 'view',
    'ngx_booking_ops.h'      => 'ops',
    'ngx_booking_http.h'     => 'http',
);

sub layer_of_file {
    my ($path) = @_;
    return $1 if $path =~ m{ngx_module/(core|store|view|ops|http)/};
    return 'module' if $path =~ m{ngx_module/[^/]+\.c$};
    return $header{ (split m{/}, $path)[-1] };
}

my (@files, @headers);
File::Find::find(sub {
    push @files, $File::Find::name if /\.c$/;
}, "$root/ngx_module");
File::Find::find(sub {
    push @headers, $File::Find::name if /\.h$/;
}, "$root/include");

my @bad;

# every header of ours has a layer
for my $h (@headers) {
    my $name = (split m{/}, $h)[-1];
    push @bad, "$name: a header of no layer (add it to tests/layers.pl)"
        unless $header{$name};
}

sub strip {
    my ($s) = @_;
    $s =~ s{/\*.*?\*/}{ }gs;
    $s =~ s{"(?:\\.|[^"\\])*"}{""}g;
    return $s;
}

my (%src, %code, %defs);
for my $f (@files, @headers) {
    open my $fh, '<', $f or die "$f: $!\n";
    local $/;
    $src{$f} = <$fh>;
    $code{$f} = strip($src{$f});
}

# includes: a file's and a header's own, of layers it may depend on
for my $f (@files, @headers) {
    my $mine = layer_of_file($f) or next;
    while ($src{$f} =~ /^#include\s+"([^"]+)"/mg) {
        my $theirs = $header{$1};
        next unless defined $theirs;
        push @bad, "$f ($mine) includes $1 ($theirs)"
            unless grep { $_ eq $theirs } @{ $below{$mine} };
    }
}

# calls: the functions each file defines, and who calls them
for my $f (@files) {
    while ($code{$f} =~ /^([A-Za-z_]\w*)\s*\([^;{]*\)\s*\{/mg) {
        $defs{$1}{$f} = 1;
    }
}

my %edges;
for my $f (@files) {
    my $mine = layer_of_file($f);
    while ($code{$f} =~ /\b([A-Za-z_]\w*)\s*\(/g) {
        my @owners = keys %{ $defs{$1} || {} };
        next unless @owners == 1 && $owners[0] ne $f;
        my $o = $owners[0];
        $edges{$f}{$o} = 1;
        my $theirs = layer_of_file($o);
        push @bad, "$f ($mine) calls $1 of $o ($theirs)"
            unless grep { $_ eq $theirs } @{ $below{$mine} };
    }
}

# no two files depend on each other, through any others (Tarjan)
my ($index, %idx, %low, @stack, %on) = (0);
my $visit;
$visit = sub {
    my ($v) = @_;
    $idx{$v} = $low{$v} = $index++;
    push @stack, $v;
    $on{$v} = 1;
    for my $w (keys %{ $edges{$v} || {} }) {
        if (!defined $idx{$w}) {
            $visit->($w);
            $low{$v} = $low{$w} if $low{$w} < $low{$v};
        } elsif ($on{$w}) {
            $low{$v} = $idx{$w} if $idx{$w} < $low{$v};
        }
    }
    if ($low{$v} == $idx{$v}) {
        my @c;
        while (1) {
            my $w = pop @stack;
            delete $on{$w};
            push @c, $w;
            last if $w eq $v;
        }
        push @bad, 'a circle: ' . join(' <-> ', sort @c) if @c > 1;
    }
};
$visit->($_) for grep { !defined $idx{$_} } sort @files;

my %seen;
@bad = grep { !$seen{$_}++ } @bad;

if (@bad) {
    print "layers: $_\n" for @bad;
    exit 1;
}

printf "layers: %d files, %d headers, every dependency one way\n",
       scalar @files, scalar @headers;
exit 0;
