//! Limits and normalisation of what authors and readers type: titles, bodies, tags, comment
//! bodies, search queries, and the slug derived from a title. Every violation is BAD_USER_INPUT.

use tessera_kit::ApiError;

/// Longest title, in characters.
pub const MAX_TITLE: usize = 200;
/// Longest post body (markdown), in characters.
pub const MAX_BODY: usize = 100_000;
/// Most tags on one post.
pub const MAX_TAGS: usize = 10;
/// Longest tag, in characters.
pub const MAX_TAG: usize = 32;
/// Longest comment, in characters.
pub const MAX_COMMENT: usize = 5_000;
/// Longest search query, in characters.
pub const MAX_QUERY: usize = 200;
/// Longest slug derived from a title, before any suffix that makes it unique.
pub const MAX_SLUG: usize = 80;

fn bounded(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::bad_input(format!("{field} must not be blank")));
    }
    if value.chars().count() > max {
        return Err(ApiError::bad_input(format!(
            "{field} must be at most {max} characters"
        )));
    }
    Ok(())
}

/// A title: trimmed, 1 to [`MAX_TITLE`] characters, no control characters.
pub fn title(raw: &str) -> Result<String, ApiError> {
    let title = raw.trim();
    bounded("title", title, MAX_TITLE)?;
    if title.chars().any(char::is_control) {
        return Err(ApiError::bad_input(
            "title must not contain control characters",
        ));
    }
    Ok(title.to_owned())
}

/// A post body, kept exactly as written: not blank, at most [`MAX_BODY`] characters.
pub fn body(raw: &str) -> Result<String, ApiError> {
    bounded("body", raw, MAX_BODY)?;
    Ok(raw.to_owned())
}

/// A comment body, kept as written: not blank, at most [`MAX_COMMENT`] characters.
pub fn comment(raw: &str) -> Result<String, ApiError> {
    bounded("body", raw, MAX_COMMENT)?;
    Ok(raw.to_owned())
}

/// A search query: trimmed, 1 to [`MAX_QUERY`] characters.
pub fn query(raw: &str) -> Result<String, ApiError> {
    let query = raw.trim();
    bounded("query", query, MAX_QUERY)?;
    Ok(query.to_owned())
}

/// A tag's normal form: lower-case letters and digits in words joined by single hyphens
/// (`"Rust  Lang"` and `"rust_lang"` are both `rust-lang`).
pub fn tag(raw: &str) -> Result<String, ApiError> {
    let mut out = String::new();
    for c in raw.trim().chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if c.is_whitespace() || c == '-' || c == '_' {
            if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        } else {
            return Err(ApiError::bad_input(format!(
                "tag {raw:?} may contain only letters, digits, spaces, hyphens and underscores"
            )));
        }
    }
    let tag = out.trim_end_matches('-').to_owned();
    if tag.is_empty() {
        return Err(ApiError::bad_input("a tag must not be blank"));
    }
    if tag.chars().count() > MAX_TAG {
        return Err(ApiError::bad_input(format!(
            "a tag must be at most {MAX_TAG} characters"
        )));
    }
    Ok(tag)
}

/// Normalised, de-duplicated tags (first occurrence order), at most [`MAX_TAGS`].
pub fn tags(raw: &[String]) -> Result<Vec<String>, ApiError> {
    let mut tags: Vec<String> = Vec::with_capacity(raw.len());
    for t in raw {
        let t = tag(t)?;
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(ApiError::bad_input(format!(
            "a post has at most {MAX_TAGS} tags"
        )));
    }
    Ok(tags)
}

/// The URL slug of a title: lower-case letters and digits joined by hyphens, common Latin
/// accents folded to ASCII, at most [`MAX_SLUG`] characters; `post` when nothing is left.
pub fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if let Some(folded) = fold(c) {
            out.push_str(folded);
        } else if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut slug: String = out.chars().take(MAX_SLUG).collect();
    while slug.ends_with('-') {
        slug.pop();
    }
    if slug.is_empty() {
        "post".to_owned()
    } else {
        slug
    }
}

/// ASCII for letters whose accent a URL reader would not miss.
fn fold(c: char) -> Option<&'static str> {
    Some(match c {
        'A'..='Z' | 'a'..='z' | '0'..='9' => return None,
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => "a",
        'æ' | 'Æ' => "ae",
        'ç' | 'Ç' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => "i",
        'ñ' | 'Ñ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => "o",
        'œ' | 'Œ' => "oe",
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => "u",
        'ý' | 'ÿ' | 'Ý' => "y",
        'ß' => "ss",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_readable_and_bounded() {
        assert_eq!(slug("Hello, World!"), "hello-world");
        assert_eq!(
            slug("  Crème brûlée -- à la carte "),
            "creme-brulee-a-la-carte"
        );
        assert_eq!(slug("Rust 2024: what's new?"), "rust-2024-what-s-new");
        assert_eq!(slug("Привет мир"), "привет-мир");
        assert_eq!(slug("!!!"), "post");
        assert_eq!(slug(&"a".repeat(300)).len(), MAX_SLUG);
        assert!(!slug(&format!("{} b", "a".repeat(MAX_SLUG - 1))).ends_with('-'));
    }

    #[test]
    fn tags_are_normalised_deduplicated_and_bounded() {
        let raw = ["Rust  Lang", "rust_lang", " WEB ", "web"].map(String::from);
        assert_eq!(tags(&raw).expect("valid"), ["rust-lang", "web"]);
        assert!(tag("c++").is_err());
        assert!(tag("  - ").is_err());
        assert!(tag(&"x".repeat(MAX_TAG + 1)).is_err());
        let many: Vec<String> = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
        assert!(tags(&many).is_err());
    }

    #[test]
    fn titles_and_bodies_are_checked() {
        assert_eq!(title("  A title ").expect("valid"), "A title");
        assert!(title(" ").is_err());
        assert!(title("a\u{7}b").is_err());
        assert!(title(&"x".repeat(MAX_TITLE + 1)).is_err());
        assert_eq!(body("  # Heading\n").expect("valid"), "  # Heading\n");
        assert!(body("\n\n").is_err());
        assert!(comment(&"x".repeat(MAX_COMMENT + 1)).is_err());
        assert!(query("   ").is_err());
    }
}
