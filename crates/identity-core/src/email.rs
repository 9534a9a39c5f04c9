//! E-mail addresses: how we store them and which we accept.

use crate::limits::{EMAIL_MAX_CHARS, EMAIL_MIN_CHARS};

/// The form we store and look up: trimmed and lower-cased (the table's CHECK
/// wants `email = lower(email)`).
pub fn normalize(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A pragmatic e-mail check (what zod's `email()` accepts, roughly): one `@`, a
/// non-empty local part, a dotted domain of letters, digits and hyphens. What
/// sign-up and sign-in accept.
pub fn is_valid(email: &str) -> bool {
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
    local_ok && domain_ok
}

/// Whether an already [`normalize`]d address fits `identity.users.email` at all:
/// an `@` with something either side, 3–320 characters, no spaces or controls.
/// Looser than [`is_valid`] on purpose: an import keeps every address its source
/// let people sign in with, even ones sign-up would refuse today.
pub fn is_storable(email: &str) -> bool {
    let len = email.chars().count();
    (EMAIL_MIN_CHARS..=EMAIL_MAX_CHARS).contains(&len)
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email
            .rsplit_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_check() {
        for ok in [
            "a@example.com",
            "first.last+tag@sub.example.co",
            "x_y@a-b.io",
        ] {
            assert!(is_valid(ok), "{ok}");
        }
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@b.c",
            "a b@example.com",
            "a@exa mple.com",
            "a..b@example.com",
            "a@-x.com",
        ] {
            assert!(!is_valid(bad), "{bad}");
        }
    }

    #[test]
    fn normalised_is_trimmed_and_lower_case() {
        assert_eq!(normalize("  Ada@Example.COM\n"), "ada@example.com");
    }

    #[test]
    fn storable_is_the_tables_bound_not_the_sign_up_rule() {
        assert!(is_storable("a@b"), "sign-up refuses it, the table holds it");
        assert!(!is_valid("a@b"));
        for bad in ["", "ab", "@b.io", "a@", "a b@c.io", "a\u{7}@c.io"] {
            assert!(!is_storable(bad), "{bad:?}");
        }
        let longest = format!("{}@x.io", "é".repeat(EMAIL_MAX_CHARS - 5));
        assert!(is_storable(&longest));
        assert!(!is_storable(&format!("a{longest}")));
    }
}
