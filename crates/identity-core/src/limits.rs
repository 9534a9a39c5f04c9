//! Field limits of our identity tables, in characters (Postgres' `length(text)`
//! counts characters, and so must we: a byte count refuses names the table holds).
//! The CHECKs are in `migrations/V1__identity_schema.sql`.

/// Longest `identity.users.name`.
pub const NAME_MAX_CHARS: usize = 256;
/// Longest `identity.users.image`.
pub const IMAGE_MAX_CHARS: usize = 2048;
/// Shortest `identity.users.email`.
pub const EMAIL_MIN_CHARS: usize = 3;
/// Longest `identity.users.email`.
pub const EMAIL_MAX_CHARS: usize = 320;
/// Longest `identity.users.role` (and it may not be empty).
pub const ROLE_MAX_CHARS: usize = 64;
/// Longest `identity.accounts.provider_id` (and it may not be empty).
pub const PROVIDER_ID_MAX_CHARS: usize = 64;
/// Longest `identity.accounts.account_id` (and it may not be empty).
pub const ACCOUNT_ID_MAX_CHARS: usize = 255;

/// Whether `name` fits `identity.users.name`.
pub fn name_fits(name: &str) -> bool {
    name.chars().count() <= NAME_MAX_CHARS
}

/// Whether `image` fits `identity.users.image`.
pub fn image_fits(image: &str) -> bool {
    image.chars().count() <= IMAGE_MAX_CHARS
}

/// `name` cut to [`NAME_MAX_CHARS`] characters (never inside a character).
pub fn truncate_name(name: &str) -> String {
    name.chars().take(NAME_MAX_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_characters_not_bytes() {
        // 'é' is two bytes: a byte count would refuse these.
        let name = "é".repeat(NAME_MAX_CHARS);
        assert!(name.len() > NAME_MAX_CHARS && name_fits(&name));
        assert!(!name_fits(&format!("{name}a")));
        let image = format!("https://x.io/{}", "é".repeat(IMAGE_MAX_CHARS - 13));
        assert!(image.len() > IMAGE_MAX_CHARS && image_fits(&image));
        assert!(!image_fits(&format!("{image}a")));
        assert_eq!(
            truncate_name(&"ü".repeat(300)).chars().count(),
            NAME_MAX_CHARS
        );
    }
}
