//! Remote APIs answer `null` as often as they leave a field out (Graph and Okta both do, e.g. an
//! app with no redirect URIs): the typed models read both as the field's empty value.

use serde::{Deserialize, Deserializer};

/// For `#[serde(default, deserialize_with = "null_as_default")]`: `null` reads as `T::default()`.
pub fn null_as_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    deserializer: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct Listed {
        #[serde(default, deserialize_with = "super::null_as_default")]
        values: Vec<String>,
    }

    #[test]
    fn null_and_a_missing_field_both_read_as_empty() {
        for text in [r#"{"values": null}"#, "{}"] {
            let listed: Listed = serde_json::from_str(text).unwrap();
            assert!(listed.values.is_empty(), "{text}");
        }
        let listed: Listed = serde_json::from_str(r#"{"values": ["a"]}"#).unwrap();
        assert_eq!(listed.values, ["a"]);
    }
}
