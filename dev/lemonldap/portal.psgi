# LemonLDAP::NG portal as one PSGI app, for plackup (no nginx, no FastCGI).
#
# The portal itself is the app that the Debian package ships as
# /usr/share/lemonldap-ng/portal/htdocs/index.psgi; in front of it, the static files
# (the skins under /static/, and under /javascript/ the Debian-packaged jQuery and Bootstrap
# that the templates load) that nginx would serve. The configuration is found through
# LLNG_DEFAULTCONFFILE (the lemonldap-ng.ini that dev/lemonldap/lemonldap.py writes).
use strict;
use warnings;
use Plack::Builder;
use Lemonldap::NG::Portal::Main;

my $htdocs = $ENV{LLNG_HTDOCS} || '/usr/share/lemonldap-ng/portal/htdocs';
my $portal = Lemonldap::NG::Portal::Main->run( {} );

builder {
    enable 'Static', path => qr{^/static/}, root => $htdocs;
    enable 'Static', path => qr{^/javascript/}, root => '/usr/share';
    $portal;
};
