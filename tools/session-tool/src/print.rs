//! What the tool prints: a listing as a table for people or as JSON for scripts, and the
//! report of an ending.

use shared::Listed;

/// Said after every ending that ended a session: what the tool did not do.
pub(crate) const NOT_REVOKED: &str = "The provider's refresh tokens of these sessions are NOT \
    revoked (they were sealed in the deleted items): revoke the user's tokens at the provider \
    (e.g. Okta: Clear User Sessions), or end the sessions through Universal Logout, which \
    revokes them. Our JWTs already issued stay valid until they expire (SESSION_TTL_SECONDS), \
    unless the functions run with SESSION_CHECK=strict.";

/// The column headings of [`table`].
const HEADINGS: [&str; 6] =
    ["SID", "PROVIDER", "DEVICE", "CREATED (UTC)", "LAST USED (UTC)", "EXPIRES (UTC)"];

/// `listed` as a table: a heading line, then one line a session, columns as wide as their
/// widest value, `-` for what a session did not store.
pub(crate) fn table(listed: &[Listed]) -> String {
    let rows: Vec<[String; 6]> = listed
        .iter()
        .map(|l| {
            let or_dash = |v: &Option<String>| v.as_deref().map_or_else(|| "-".to_owned(), cell);
            [
                cell(&l.sid),
                or_dash(&l.provider),
                or_dash(&l.device),
                time(l.created),
                time(l.used),
                time(l.expires),
            ]
        })
        .collect();
    let headings = HEADINGS.map(str::to_owned);
    let mut widths = [0; 6];
    for row in std::iter::once(&headings).chain(&rows) {
        for (width, value) in widths.iter_mut().zip(row) {
            *width = (*width).max(value.chars().count());
        }
    }
    let line = |row: &[String; 6]| {
        let padded: Vec<String> =
            row.iter().zip(widths).map(|(value, width)| format!("{value:width$}")).collect();
        padded.join("  ").trim_end().to_owned()
    };
    std::iter::once(&headings).chain(&rows).map(line).collect::<Vec<_>>().join("\n")
}

/// `listed` as a JSON array, the fields as [`Listed`] names them.
pub(crate) fn json(listed: &[Listed]) -> Result<String, String> {
    serde_json::to_string_pretty(listed).map_err(|_| "the listing does not serialise".into())
}

/// The report of an ending.
pub(crate) fn ended(count: usize, whose: &str) -> String {
    let plural = if count == 1 { "" } else { "s" };
    format!("ended {count} session{plural} of {whose}")
}

/// Unix seconds `secs` as `2025-06-01 09:30:00` (UTC), or the number itself beyond chrono's
/// range.
fn time(secs: u64) -> String {
    let at = i64::try_from(secs).ok().and_then(|s| chrono::DateTime::from_timestamp(s, 0));
    at.map_or_else(|| secs.to_string(), |at| at.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// A value read from the table, fit for a terminal: a control character (an escape sequence
/// in a stored value would drive the operator's terminal) is shown as `?`.
fn cell(value: &str) -> String {
    value.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(sid: &str, provider: Option<&str>, device: Option<&str>) -> Listed {
        Listed {
            sid: sid.to_owned(),
            provider: provider.map(str::to_owned),
            created: 1_748_770_200,
            used: 1_748_773_800,
            device: device.map(str::to_owned),
            expires: 1_749_375_000,
        }
    }

    #[test]
    fn a_table_lines_up_its_columns_in_utc_and_dashes_what_was_not_stored() {
        let text = table(&[
            listed("sid-one", Some("default"), Some("Firefox on Linux")),
            listed("sid-2", None, None),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "SID      PROVIDER  DEVICE            CREATED (UTC)        LAST USED (UTC)      EXPIRES (UTC)",
                "sid-one  default   Firefox on Linux  2025-06-01 09:30:00  2025-06-01 10:30:00  2025-06-08 09:30:00",
                "sid-2    -         -                 2025-06-01 09:30:00  2025-06-01 10:30:00  2025-06-08 09:30:00",
            ]
        );
    }

    #[test]
    fn stored_values_cannot_drive_the_terminal() {
        let text = table(&[listed("s", Some("default"), Some("\u{1b}[2JFirefox\n"))]);
        assert!(!text.contains('\u{1b}'));
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.contains("?[2JFirefox?"), "{text}");
    }

    #[test]
    fn times_beyond_chronos_range_print_as_numbers() {
        assert_eq!(time(0), "1970-01-01 00:00:00");
        assert_eq!(time(u64::MAX), u64::MAX.to_string());
    }

    #[test]
    fn json_is_an_array_of_the_listed_fields_with_null_for_what_was_not_stored() {
        let text = json(&[listed("s", Some("default"), None)]).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value,
            serde_json::json!([{
                "sid": "s",
                "provider": "default",
                "device": null,
                "created": 1_748_770_200,
                "used": 1_748_773_800,
                "expires": 1_749_375_000,
            }])
        );
        assert_eq!(json(&[]).unwrap(), "[]");
    }

    #[test]
    fn an_ending_counts_what_it_ended_and_says_what_it_did_not_revoke() {
        assert_eq!(ended(1, "alice at https://idp"), "ended 1 session of alice at https://idp");
        assert_eq!(ended(0, "bob at https://idp"), "ended 0 sessions of bob at https://idp");
        assert!(NOT_REVOKED.contains("NOT revoked") && NOT_REVOKED.contains("Universal Logout"));
    }
}
