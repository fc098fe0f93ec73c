package BookingPlatform;

# What the seed platforms' tests (t/88 to t/99) read alike: a resource's
# calendar feed, as its events.

use strict;
use warnings;
use Exporter 'import';

our @EXPORT_OK = qw(ics_events);

# GET calendar.ics, unfolded: its status, Content-Type, body, and each
# VEVENT as { NAME => value, "NAME;" => its parameters }
sub ics_events {
    my ($t, $res) = @_;
    my $r = $t->req(GET => "/api/resources/$res/calendar.ics");
    my $body = $r->{body} // '';
    (my $u = $body) =~ s/\r\n[ \t]//g;
    my @ev;
    for my $block ($u =~ /^BEGIN:VEVENT\r\n(.*?)^END:VEVENT\r\n/gms) {
        my %e;
        for my $l (split /\r\n/, $block) {
            my ($k, $p, $v) = $l =~ /^([A-Z-]+)((?:;[^:]*)?):(.*)$/ or next;
            $e{$k} = $v;
            $e{"$k;"} = $p;
        }
        push @ev, \%e;
    }
    return { status => $r->{status}, type => $r->{headers}{'content-type'} // '', body => $body, events => \@ev };
}

1;
