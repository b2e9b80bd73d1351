//! Phone numbers: E.164 validation and normalization with the `phonenumber` crate (a port of
//! Google's libphonenumber).
//!
//! The crate's default database prepares the patterns of all 250 regions on first use, which costs
//! about 65 ms: more than everything else `callplan check` does on a small plan. So each country
//! calling code gets its own database, built from the same metadata (`PhoneNumberMetadata.xml`
//! from libphonenumber 9.0.33, the release phonenumber 0.3.10+9.0.33 embeds, Apache-2.0) through
//! the crate's public `Database::parse`, with only the parts validation reads: a plan with US
//! numbers pays for the NANP regions alone. A test checks that the answers equal the crate's
//! default database.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use phonenumber::metadata::Database;

const METADATA: &str = include_str!("PhoneNumberMetadata.xml");

/// Parts of a territory that validation never reads (formatting rules and source links): left
/// out so that their patterns are not prepared.
const UNUSED: &[&str] = &["availableFormats", "references"];

/// The database for one country calling code, built once per process.
fn database(code: u16) -> Option<&'static Database> {
    static CACHE: OnceLock<Mutex<HashMap<u16, Option<&'static Database>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    *cache.entry(code).or_insert_with(|| {
        let xml = territories(code)?;
        // Leaked on purpose: one small database per calling code, kept for the process's life.
        Database::parse(&xml)
            .ok()
            .map(|db| &*Box::leak(Box::new(db)))
    })
}

/// Starts building, on other threads, the databases for the calling codes of every `+` number
/// in `text`, so that they are ready when the checks reach them.
pub fn prewarm(text: &str) {
    let mut codes = std::collections::BTreeSet::new();
    for (i, _) in text.match_indices('+') {
        let digits: String = text[i + 1..]
            .chars()
            .take(3)
            .take_while(char::is_ascii_digit)
            .collect();
        if let Some(code) = calling_code(&digits) {
            codes.insert(code);
        }
        if codes.len() >= 4 {
            break;
        }
    }
    for code in codes {
        std::thread::spawn(move || database(code));
    }
}

/// The metadata document restricted to the territories of one calling code.
fn territories(code: u16) -> Option<String> {
    let needle = format!("countryCode=\"{code}\"");
    let mut out = String::from("<phoneNumberMetadata><territories>");
    let mut found = false;
    let mut rest = METADATA;
    while let Some(start) = rest.find("<territory ") {
        let after = &rest[start..];
        let end = after
            .find("</territory>")
            .map(|e| e + "</territory>".len())
            .unwrap_or(after.len());
        let head = &after[..after.find('>').unwrap_or(0)];
        if head.contains(&needle) {
            let mut territory = after[..end].to_owned();
            for tag in UNUSED {
                let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
                while let (Some(a), Some(b)) = (territory.find(&open), territory.find(&close)) {
                    if b < a {
                        break;
                    }
                    territory.replace_range(a..b + close.len(), "");
                }
            }
            out.push_str(&territory);
            found = true;
        }
        rest = &after[end..];
    }
    out.push_str("</territories></phoneNumberMetadata>");
    found.then_some(out)
}

/// Calling codes are prefix-free: the first 1 to 3 digits that name one is it.
fn calling_code(digits: &str) -> Option<u16> {
    // Every calling code the metadata knows, read from it once.
    static CODES: OnceLock<std::collections::BTreeSet<u16>> = OnceLock::new();
    let codes = CODES.get_or_init(|| {
        METADATA
            .split("countryCode=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next()?.parse().ok())
            .collect()
    });
    (1..=3).find_map(|n| {
        let code: u16 = digits.get(..n)?.parse().ok()?;
        codes.contains(&code).then_some(code)
    })
}

/// The E.164 form of a phone number, or `None` if it is not a valid one. A number without `+` is
/// read as a NANP (+1) number, as written in the US and Canada.
pub fn normalize(text: &str) -> Option<String> {
    // Plans repeat the same few numbers many times; each is parsed once.
    static SEEN: OnceLock<Mutex<HashMap<String, Option<String>>>> = OnceLock::new();
    let seen = SEEN.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(known) = seen.lock().unwrap_or_else(|e| e.into_inner()).get(text) {
        return known.clone();
    }
    let result = normalize_uncached(text);
    let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    if seen.len() < 10_000 {
        seen.insert(text.to_owned(), result.clone());
    }
    result
}

fn normalize_uncached(text: &str) -> Option<String> {
    let trimmed = text.trim();
    let (code, country) = match trimmed.strip_prefix('+') {
        Some(rest) => {
            let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
            (calling_code(&digits)?, None)
        }
        None => (1, Some(phonenumber::country::Id::US)),
    };
    let db = database(code)?;
    let number = phonenumber::parse_with(db, country, trimmed).ok()?;
    if !phonenumber::is_valid_with(db, &number) {
        return None;
    }
    // E.164 is `+`, the calling code and the national number: exactly what the crate's E164
    // formatter writes, without its formatter's set-up of every region's patterns.
    Some(format!("+{}{}", number.country().code(), number.national()))
}

/// Whether `text` is written in E.164 (`+13175550100`) and is a valid number.
pub fn is_e164(text: &str) -> bool {
    text.len() > 1
        && text.starts_with('+')
        && text[1..].chars().all(|c| c.is_ascii_digit())
        && normalize(text).as_deref() == Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-code databases answer exactly as the crate's default database does.
    #[test]
    fn agrees_with_the_default_database() {
        let numbers = [
            "+13175550100",
            "+13175550104",
            "+15555550100",
            "+14165550123",
            "+12425551234",
            "+18095551234",
            "+442079460000",
            "+447700900123",
            "+4420794600",
            "+4930123456",
            "+491701234567",
            "+33123456789",
            "+33612345678",
            "+61291234567",
            "+81312345678",
            "+551155551234",
            "+5511955551234",
            "+861012345678",
            "+919876543210",
            "+27211234567",
            "+2348031234567",
            "+97143123456",
            "+79123456789",
            "+390612345678",
            "+3491234567",
            "+12",
            "+999123",
            "+1317555",
            "+8001234567",
            "+6512345678",
        ];
        for n in numbers {
            let ours = normalize(n);
            let theirs = phonenumber::parse(None, n)
                .ok()
                .filter(phonenumber::is_valid)
                .map(|p| p.format().mode(phonenumber::Mode::E164).to_string());
            assert_eq!(ours, theirs, "{n}");
        }
    }

    #[test]
    fn normalizes_national_formats_as_nanp() {
        assert_eq!(normalize("(317) 555-0100").as_deref(), Some("+13175550100"));
        assert_eq!(
            normalize("+1 317 555 0100").as_deref(),
            Some("+13175550100")
        );
        assert!(is_e164("+13175550100"));
        assert!(!is_e164("13175550100"));
        assert!(!is_e164("+1317555"));
        assert!(!is_e164("+"));
        assert!(normalize("not a number").is_none());
    }
}
