//! Checks on the ID token that openidconnect leaves to us, as pure functions on
//! the compact JWT. Trust: the token is untrusted until openidconnect has
//! verified its signature; the header checks run before that, the claim reads
//! after it (on the very bytes that were signed).

use serde_json::{Map, Value};
use spiderpig_policy::Username;

use openidconnect::core::CoreJwsSigningAlgorithm as Alg;

/// The signature algorithms accepted in ID tokens: asymmetric only. `none` and
/// every HS* are absent — an HMAC "signature" keyed with the client secret would
/// let anyone holding that secret mint identities.
pub(super) const ALLOWED_ALGS: [(&str, Alg); 8] = [
    ("RS256", Alg::RsaSsaPkcs1V15Sha256),
    ("RS384", Alg::RsaSsaPkcs1V15Sha384),
    ("RS512", Alg::RsaSsaPkcs1V15Sha512),
    ("PS256", Alg::RsaSsaPssSha256),
    ("PS384", Alg::RsaSsaPssSha384),
    ("PS512", Alg::RsaSsaPssSha512),
    ("ES256", Alg::EcdsaP256Sha256),
    ("ES384", Alg::EcdsaP384Sha384),
];

/// Header parameters that point at keys or extensions. The key must come from
/// the issuer's JWKS alone, so a token naming its own key is refused outright.
const FORBIDDEN_HEADER_PARAMS: [&str; 5] = ["jku", "jwk", "x5u", "x5c", "crit"];

/// Most groups accepted in one token, and the longest group name.
pub(super) const MAX_GROUPS: usize = 1000;
pub(super) const MAX_GROUP_BYTES: usize = 256;
/// OIDC Core §2: `sub` is at most 255 ASCII characters.
pub(super) const MAX_SUBJECT_BYTES: usize = 255;

fn part(raw_jwt: &str, index: usize) -> Result<Map<String, Value>, String> {
    let parts: Vec<&str> = raw_jwt.split('.').collect();
    if parts.len() != 3 {
        return Err(format!("ID token has {} parts, not 3", parts.len()));
    }
    let bytes = data_encoding::BASE64URL_NOPAD
        .decode(parts[index].as_bytes())
        .map_err(|_| "ID token part is not base64url".to_owned())?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err("ID token part is not a JSON object".to_owned()),
    }
}

/// The JOSE header: an allowed asymmetric `alg`, no key-carrying parameters.
pub(super) fn check_header(raw_jwt: &str) -> Result<(), String> {
    let header = part(raw_jwt, 0)?;
    // IDP-supplied strings are shown with `{:?}` so they cannot forge log lines.
    match header.get("alg") {
        Some(Value::String(alg)) if ALLOWED_ALGS.iter().any(|(name, _)| name == alg) => {}
        Some(Value::String(alg)) => return Err(format!("ID token alg {alg:?} is not allowed")),
        _ => return Err("ID token header has no string alg".to_owned()),
    }
    if let Some(param) = FORBIDDEN_HEADER_PARAMS
        .iter()
        .find(|p| header.contains_key(**p))
    {
        return Err(format!("ID token header carries `{param}`"));
    }
    Ok(())
}

/// The claims, parsed from the signed payload bytes.
pub(super) fn payload(raw_jwt: &str) -> Result<Map<String, Value>, String> {
    part(raw_jwt, 1)
}

/// OIDC Core §3.1.3.7 step 5: when `azp` is present it must be our client id.
pub(super) fn check_azp(claims: &Map<String, Value>, client_id: &str) -> Result<(), String> {
    match claims.get("azp") {
        None => Ok(()),
        Some(Value::String(azp)) if azp == client_id => Ok(()),
        Some(other) => Err(format!("ID token azp {other} is not this client")),
    }
}

/// `iat` must lie within `skew_secs` of our clock, either way.
pub(super) fn check_issued_at(iat_secs: i64, now_ms: i64, skew_secs: u32) -> Result<(), String> {
    let off_ms = iat_secs.saturating_mul(1000).saturating_sub(now_ms);
    if off_ms.unsigned_abs() > u64::from(skew_secs) * 1000 {
        Err(format!(
            "ID token iat is {}s away from now (allowed ±{skew_secs}s)",
            off_ms / 1000
        ))
    } else {
        Ok(())
    }
}

/// `sub`: 1 to 255 printable ASCII characters.
pub(super) fn check_subject(sub: &str) -> Result<(), String> {
    let printable = sub.bytes().all(|b| b.is_ascii_graphic());
    if sub.is_empty() || sub.len() > MAX_SUBJECT_BYTES || !printable {
        return Err("ID token sub is empty, too long or not printable ASCII".into());
    }
    Ok(())
}

/// The user name from `claim`, checked by the policy crate.
pub(super) fn username(claims: &Map<String, Value>, claim: &str) -> Result<Username, String> {
    match claims.get(claim) {
        Some(Value::String(name)) => Username::parse(name)
            .map_err(|e| format!("ID token claim `{claim}` is not a valid user name: {e}")),
        Some(_) => Err(format!("ID token claim `{claim}` is not a string")),
        None => Err(format!("ID token has no `{claim}` claim")),
    }
}

/// The groups from `claim`: an array of strings; a missing claim is no groups.
pub(super) fn groups(claims: &Map<String, Value>, claim: &str) -> Result<Vec<String>, String> {
    let Some(value) = claims.get(claim) else {
        return Ok(Vec::new());
    };
    let Value::Array(items) = value else {
        return Err(format!("ID token claim `{claim}` is not an array"));
    };
    if items.len() > MAX_GROUPS {
        return Err(format!(
            "ID token claim `{claim}` lists {} groups",
            items.len()
        ));
    }
    items
        .iter()
        .map(|item| match item {
            Value::String(g) if !g.is_empty() && g.len() <= MAX_GROUP_BYTES => Ok(g.clone()),
            _ => Err(format!(
                "ID token claim `{claim}` holds a non-string or oversized group"
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn jwt(header: Value, payload: Value) -> String {
        let enc = |v: &Value| data_encoding::BASE64URL_NOPAD.encode(v.to_string().as_bytes());
        format!("{}.{}.c2ln", enc(&header), enc(&payload))
    }

    #[test]
    fn only_asymmetric_algs_without_key_parameters_pass_the_header_check() {
        for alg in ["RS256", "PS256", "ES256", "ES384", "RS512"] {
            assert!(
                check_header(&jwt(json!({"alg": alg, "kid": "k"}), json!({}))).is_ok(),
                "{alg}"
            );
        }
        let refused = [
            json!({"alg": "none"}),
            json!({"alg": "None"}),
            json!({"alg": "HS256"}),
            json!({"alg": "HS512"}),
            json!({"alg": "rs256"}),
            json!({}),
            json!({"alg": ["RS256"]}),
            json!({"alg": "RS256", "jku": "https://evil.example/jwks"}),
            json!({"alg": "RS256", "jwk": {"kty": "RSA"}}),
            json!({"alg": "RS256", "x5u": "https://evil.example/cert"}),
            json!({"alg": "RS256", "x5c": ["MII..."]}),
            json!({"alg": "RS256", "crit": ["exp"]}),
        ];
        for header in refused {
            assert!(
                check_header(&jwt(header.clone(), json!({}))).is_err(),
                "{header}"
            );
        }
        assert!(check_header("a.b").is_err());
        assert!(check_header("a.b.c.d").is_err());
        assert!(check_header("!!.e30.").is_err());
        let array_header = format!("{}.e30.", data_encoding::BASE64URL_NOPAD.encode(b"[1]"));
        assert!(check_header(&array_header).is_err());
    }

    #[test]
    fn azp_must_be_this_client_when_present() {
        let c = |v: Value| v.as_object().unwrap().clone();
        assert!(check_azp(&c(json!({})), "me").is_ok());
        assert!(check_azp(&c(json!({"azp": "me"})), "me").is_ok());
        assert!(check_azp(&c(json!({"azp": "other"})), "me").is_err());
        assert!(check_azp(&c(json!({"azp": ["me"]})), "me").is_err());
    }

    #[test]
    fn iat_must_be_within_the_skew() {
        let now_ms = 1_700_000_000_500;
        assert!(check_issued_at(1_700_000_000, now_ms, 60).is_ok());
        assert!(check_issued_at(1_700_000_060, now_ms, 60).is_ok());
        assert!(check_issued_at(1_699_999_941, now_ms, 60).is_ok());
        assert!(check_issued_at(1_700_000_062, now_ms, 60).is_err());
        assert!(check_issued_at(1_699_999_930, now_ms, 60).is_err());
        assert!(check_issued_at(i64::MAX, now_ms, 60).is_err());
        assert!(check_issued_at(i64::MIN, now_ms, 60).is_err());
    }

    #[test]
    fn subjects_are_printable_ascii_up_to_255() {
        assert!(check_subject("sub-deployer1").is_ok());
        assert!(check_subject(&"x".repeat(255)).is_ok());
        for bad in ["", " a", "a\nb", "é", &"x".repeat(256)] {
            assert!(check_subject(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn usernames_come_from_the_configured_claim_and_are_checked() {
        let c = json!({"preferred_username": "deployer1", "nick": "Evil\nUser", "n": 5});
        let c = c.as_object().unwrap();
        assert_eq!(
            username(c, "preferred_username").unwrap().as_str(),
            "deployer1"
        );
        assert!(username(c, "nick").is_err());
        assert!(username(c, "n").is_err());
        assert!(username(c, "missing").is_err());
    }

    #[test]
    fn groups_are_an_array_of_strings_or_nothing() {
        let c = json!({
            "groups": ["deployers", "wikidev"], "empty": [], "str": "deployers",
            "mixed": ["a", 1], "blank": [""], "null": null,
            "many": vec!["g"; MAX_GROUPS + 1], "long": ["x".repeat(MAX_GROUP_BYTES + 1)],
        });
        let c = c.as_object().unwrap();
        assert_eq!(groups(c, "groups").unwrap(), ["deployers", "wikidev"]);
        assert!(groups(c, "empty").unwrap().is_empty());
        assert!(groups(c, "absent").unwrap().is_empty());
        for bad in ["str", "mixed", "blank", "null", "many", "long"] {
            assert!(groups(c, bad).is_err(), "{bad}");
        }
    }
}
