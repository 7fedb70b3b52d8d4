//! Boots the redemption dashboard: panic hook, logger, mount.

fn main() {
    redemption_dashboard::boot();
}
