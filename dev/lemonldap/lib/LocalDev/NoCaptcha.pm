# A captcha module that is never used, for the local LemonLDAP::NG portal.
#
# The portal loads its captcha module at start even with every captcha off (the configuration
# key `captcha`, default ::Captcha::SecurityImage), and Debian's SecurityImage needs
# Image::Magick (libimage-magick-perl and ImageMagick) only to fail loading without it. This
# one loads nothing. Should a captcha be switched on anyway, every check fails.
package LocalDev::NoCaptcha;

use strict;
use Mouse;

extends 'Lemonldap::NG::Portal::Main::Plugin';

sub init { 1 }

sub init_captcha { return }

sub check_captcha {
    my ( $self, $req ) = @_;
    $self->logger->error('LocalDev::NoCaptcha: a captcha is switched on, but none is available');
    return 0;
}

1;
